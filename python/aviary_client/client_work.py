"""One client's fit or evaluate for one round, from the round's MODEL vector to the answer the
server gets: the arrays checked against the tensor table, the delta (local − global, f32), or
the exception's message as the FAILURE reason / EVAL_RESULT error. No sockets; the training
thread runs these."""
import math
import traceback

import numpy as np

from .messages import EvalResult
from .tensors import TensorMismatch, check, unflatten
from .tensors import delta as tensor_delta


class FitFailed(Exception):
    """fit could not produce an update; the message is the FAILURE reason."""


def _metrics(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FitFailed(f"{what} metrics must be a dict of name → number, not {type(value).__name__}")
    out = {}
    for k, v in value.items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise FitFailed(f"{what} metric '{k}' is not a number: {v!r}") from None
    return out


def _samples(value, what):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise FitFailed(f"{what} returned num_samples {value!r}, not an integer") from None
    if n < 0 or n != value:
        raise FitFailed(f"{what} returned num_samples {value!r}, not a non-negative integer")
    return n


def round_config(config, round_):
    c = dict(config)
    c.setdefault("round", float(round_))
    return c


def fit(client, model_vector, table, round_, config):
    """(dense f32 delta, samples, metrics) of `client` for this round; raises FitFailed."""
    parameters = unflatten(model_vector.copy(), table)  # the app may change them in place
    try:
        answer = client.fit(parameters, round_config(config, round_))
    except Exception as e:
        raise FitFailed(_exception_text(e)) from e
    if not (isinstance(answer, tuple) and len(answer) == 3):
        raise FitFailed("fit must return (parameters, num_samples, metrics)")
    arrays, samples, metrics = answer
    try:
        check(arrays, table)
    except TensorMismatch as e:
        raise FitFailed(f"fit returned parameters that do not match the model: {e}") from None
    d = tensor_delta(arrays, table, model_vector)
    if not np.isfinite(d).all():
        bad = int(np.flatnonzero(~np.isfinite(d))[0])
        raise FitFailed(f"fit returned a non-finite value in tensor '{_tensor_at(table, bad)}'")
    return d, _samples(samples, "fit"), _metrics(metrics, "fit")


def evaluate(client, model_vector, table, round_, config, client_index):
    """The EVAL_RESULT (token 0) of `client` on MODEL(round_); a failure is its error text.
    The arrays are read-only views of the round's model (no copy; other jobs share it)."""
    shared = model_vector.view()
    shared.flags.writeable = False
    parameters = unflatten(shared, table)
    try:
        answer = client.evaluate(parameters, round_config(config, round_))
        if not (isinstance(answer, tuple) and len(answer) == 3):
            raise FitFailed("evaluate must return (loss, num_samples, metrics)")
        loss, samples, metrics = answer
        metrics = _metrics(metrics, "evaluate")
        metrics["loss"] = float(loss)
        if not all(math.isfinite(v) for v in metrics.values()):
            bad = next(k for k, v in metrics.items() if not math.isfinite(v))
            raise FitFailed(f"evaluate returned a non-finite {bad}")
        return EvalResult(round_, client_index, 0, _samples(samples, "evaluate"), metrics, "")
    except Exception as e:
        return EvalResult(round_, client_index, 0, 0, {}, _exception_text(e))


def _tensor_at(table, position):
    offset = 0
    for t in table:
        if position < offset + t.count:
            return t.name
        offset += t.count
    return "?"


def _exception_text(e):
    if isinstance(e, FitFailed):
        return str(e)
    text = f"{type(e).__name__}: {e}"
    frame = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    for f in frame:
        text += f" (at {f.filename}:{f.lineno})"
    return text
