"""The delta encodings' arithmetic (docs/PROTOCOL.md, "Delta encodings"), as Swift's
`DeltaCodec`: f32 as is; f16 round-to-nearest-even with |x| > 65504 clamped (and counted);
int8 per tensor, scale = max|x| / 127, q = x / scale rounded half to even (or stochastically
from the client's stream) and clamped to -127...127; top-k in `topk`. Decoding checks a payload
against the model's format, never against sizes from the wire."""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from . import topk as topk_module
from .messages import F16Payload, F32Payload, Int8Payload, TopKPayload

F16_MAX = np.float32(65504)


@dataclass(frozen=True)
class Encoding:
    """The run's encoding: name "f32", "f16", "int8" or "topk" (with its fraction)."""
    name: str
    fraction: Optional[float] = None

    @property
    def tag(self):
        return {"f32": 0, "f16": 1, "int8": 2, "topk": 3}[self.name]

    def uses_error_feedback(self, error_feedback):
        return self.name == "topk" or (self.name in ("f16", "int8") and error_feedback)

    def __str__(self):
        return f"topk({self.fraction})" if self.name == "topk" else self.name


@dataclass(frozen=True)
class DeltaFormat:
    encoding: Encoding
    tensor_sizes: List[int] = field(default_factory=list)

    @property
    def parameter_count(self):
        return sum(self.tensor_sizes)

    @property
    def topk_count(self):
        if self.encoding.name != "topk":
            return 0
        return topk_module.topk_count(self.encoding.fraction, self.parameter_count)

    def encoded_size(self):
        """Bytes of UPDATE's delta field, tag included (the table of docs/PROTOCOL.md)."""
        n, name = self.parameter_count, self.encoding.name
        if name == "f32":
            return 9 + 4 * n
        if name == "f16":
            return 9 + 2 * n
        if name == "int8":
            return 1 + 8 + 4 * len(self.tensor_sizes) + 8 + n
        return 25 + 8 * self.topk_count


class DeltaDecodingError(ValueError):
    """A payload that does not fit the model; the text is Swift's `DeltaDecodingError`'s."""


def encode(delta, fmt, stream=None):
    """(payload, clamped) for a finite f32 `delta` of the model's length, without error feedback.
    `stream` (a RandomStream) selects stochastic rounding for int8."""
    delta = np.ascontiguousarray(delta, dtype=np.float32)
    if delta.size != fmt.parameter_count:
        raise ValueError(f"delta length {delta.size} ≠ model {fmt.parameter_count}")
    name = fmt.encoding.name
    if name == "f32":
        return F32Payload(delta), 0
    if name == "f16":
        over = np.abs(delta) > F16_MAX
        clamped = int(np.count_nonzero(over))
        x = np.where(over, np.copysign(F16_MAX, delta), delta) if clamped else delta
        return F16Payload(x.astype(np.float16).view(np.uint16)), clamped
    if name == "int8":
        return _int8(delta, fmt.tensor_sizes, stream), 0
    indices, values = topk_module.select(delta, fmt.topk_count)
    return TopKPayload(int(delta.size), indices, values), 0


def _int8(delta, sizes, stream):
    scales = np.zeros(len(sizes), dtype=np.float32)
    values = np.zeros(delta.size, dtype=np.int8)
    offset = 0
    for t, size in enumerate(sizes):
        part = delta[offset:offset + size]
        max_abs = np.max(np.abs(part)) if size else np.float32(0)
        scale = np.float32(max_abs) / np.float32(127)
        scales[t] = scale
        if scale > 0:
            y = part / scale  # f32 division, as Swift's
            if stream is None:
                q = np.rint(y)  # half to even
            else:
                u = np.fromiter((stream.next_double() for _ in range(size)), dtype=np.float64, count=size)
                q = np.floor(y.astype(np.float64) + u)
            values[offset:offset + size] = np.clip(q, -127, 127).astype(np.int8)
        offset += size
    return Int8Payload(scales, values)


def decode(payload, fmt):
    """The dense f32 delta `payload` stands for, after checking it against `fmt`."""
    if payload.tag != fmt.encoding.tag:
        raise DeltaDecodingError(f"delta is encoded as {payload.name}; this run uses {fmt.encoding.name}")
    n = fmt.parameter_count

    def length(name, got, expected):
        if got != expected:
            raise DeltaDecodingError(f"encoded delta: {name} has {got} entries, the model needs {expected}")

    def finite(name, v):
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise DeltaDecodingError(f"encoded delta: {name}[{bad[0]}] is not finite")

    if isinstance(payload, F32Payload):
        length("f32 values", payload.values.size, n)
        finite("f32 values", payload.values)
        return np.asarray(payload.values, dtype=np.float32)
    if isinstance(payload, F16Payload):
        length("f16 values", payload.bits.size, n)
        bad = np.flatnonzero((payload.bits & 0x7C00) == 0x7C00)
        if bad.size:
            raise DeltaDecodingError(f"encoded delta: f16 values[{bad[0]}] is not finite")
        return payload.bits.astype(np.uint16).view(np.float16).astype(np.float32)
    if isinstance(payload, Int8Payload):
        length("int8 scales", payload.scales.size, len(fmt.tensor_sizes))
        length("int8 values", payload.values.size, n)
        for t, s in enumerate(payload.scales):
            if not (np.isfinite(s) and s >= 0):
                raise DeltaDecodingError(f"encoded delta: int8 scale of tensor {t} is {s}, not a finite non-negative number")
        bad = np.flatnonzero(payload.values == -128)
        if bad.size:
            raise DeltaDecodingError(f"encoded delta: int8 value -128 at {bad[0]} is outside -127...127")
        per_value = np.repeat(payload.scales.astype(np.float32), fmt.tensor_sizes)
        out = payload.values.astype(np.float32) * per_value
        finite("int8 values", out)
        return out
    length("top-k dense length", payload.length, n)
    k = fmt.topk_count
    length("top-k indices", payload.indices.size, k)
    length("top-k values", payload.values.size, k)
    finite("top-k values", payload.values)
    idx = payload.indices.astype(np.int64)
    out = np.zeros(n, dtype=np.float32)
    for p in np.flatnonzero(idx >= n)[:1]:
        raise DeltaDecodingError(f"encoded delta: top-k index {idx[p]} at position {p} is outside 0..<{n}")
    for p in np.flatnonzero(np.diff(idx) <= 0)[:1]:
        raise DeltaDecodingError(f"encoded delta: top-k index {idx[p + 1]} at position {p + 1} "
                                 f"does not follow {idx[p]} in increasing order")
    out[idx] = payload.values
    return out


def feedback_step(delta, residual, fmt, stream=None):
    """f16 or int8 with error feedback: encode delta + residual; what the encoding lost becomes
    the next residual. Returns (payload, clamped, new residual)."""
    accumulated = np.array(delta, dtype=np.float32, copy=True)
    if residual is not None:
        if residual.size != accumulated.size:
            raise ValueError(f"residual length {residual.size} ≠ delta {accumulated.size}")
        accumulated += residual
    payload, clamped = encode(accumulated, fmt, stream)
    try:
        sent = decode(payload, fmt)
    except DeltaDecodingError:
        sent = np.zeros_like(accumulated)  # keep the whole sum rather than lose it
    return payload, clamped, accumulated - sent
