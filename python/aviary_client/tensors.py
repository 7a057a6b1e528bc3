"""The run spec's tensor table against the user's named arrays: the flat f32 vector of MODEL
and UPDATE cut into named, shaped arrays, and named arrays checked (names, shapes, dtypes; the
first mismatch is named) and turned back into the f32 delta."""
import numpy as np

from .run_spec import DTYPES


class TensorMismatch(ValueError):
    """The user's arrays differ from the run's tensor table; the message names the first mismatch."""


def unflatten(vector, table):
    """{name: array} views of `vector` (f32) in the table's order, cast to each tensor's dtype."""
    out = {}
    offset = 0
    for t in table:
        part = vector[offset:offset + t.count].reshape(t.shape)
        dtype = DTYPES.get(t.dtype, np.float32)
        out[t.name] = part if dtype is np.float32 else part.astype(dtype)
        offset += t.count
    if offset != vector.size:
        raise TensorMismatch(f"the model vector has {vector.size} values but the tensor table describes {offset}")
    return out


def check(arrays, table):
    """Raises TensorMismatch naming the first tensor whose name, shape or dtype differs."""
    if not isinstance(arrays, dict):
        raise TensorMismatch(f"parameters must be a dict of name → NumPy array, not {type(arrays).__name__}")
    names = list(arrays)
    for i, t in enumerate(table):
        if t.name not in arrays:
            got = f"'{names[i]}'" if i < len(names) else "nothing"
            raise TensorMismatch(f"tensor {i} of the model is '{t.name}' but the client returned {got} there "
                                 f"(missing '{t.name}')")
        a = arrays[t.name]
        shape = tuple(np.shape(a))
        if shape != tuple(t.shape):
            raise TensorMismatch(f"tensor '{t.name}' has shape {list(shape)}, the model's is {list(t.shape)}")
        expected = DTYPES.get(t.dtype)
        dtype = getattr(a, "dtype", None)
        if expected is not None and dtype is not None and np.dtype(dtype) != np.dtype(expected):
            raise TensorMismatch(f"tensor '{t.name}' has dtype {np.dtype(dtype).name}, the model's is {t.dtype}")
    extra = [n for n in names if n not in {t.name for t in table}]
    if extra:
        raise TensorMismatch(f"tensor '{extra[0]}' is not in the model's tensor table")


def delta(arrays, table, model_vector):
    """`flatten(arrays) − model_vector` in one pass into one new f32 vector (after `check`)."""
    out = np.empty(model_vector.size, dtype=np.float32)
    offset = 0
    for t in table:
        local = np.asarray(arrays[t.name]).reshape(-1)
        np.subtract(local, model_vector[offset:offset + t.count], out=out[offset:offset + t.count], dtype=np.float32)
        offset += t.count
    return out
