"""Top-k over the whole delta (docs/PROTOCOL.md, "Delta encodings"): the k largest |x|, ties
broken by the lower index, exactly the set Swift's radix select on the bit patterns keeps, and
one error-feedback step: sent + new residual == delta + old residual, exactly in f32."""
import math

import numpy as np

from .messages import TopKPayload


def topk_count(fraction, count):
    """k = ceil(fraction · count), at least 1 for a non-empty vector, at most count."""
    if count <= 0:
        return 0
    k = math.ceil(fraction * count)
    if not math.isfinite(k) or k < 1:
        return 1
    return count if k >= count else int(k)


def select(values, k):
    """(indices uint32 increasing, values f32) of the k largest magnitudes, ties lower index
    first. Magnitudes compare as the bit patterns of |x| (monotone for finite floats)."""
    v = np.ascontiguousarray(values, dtype=np.float32)
    n = v.size
    k = min(max(k, 0), n)
    if k == 0:
        return np.zeros(0, np.uint32), np.zeros(0, np.float32)
    magnitude = v.view(np.uint32) & np.uint32(0x7FFFFFFF)
    threshold = np.partition(magnitude, n - k)[n - k]  # the k-th largest pattern
    above = magnitude > threshold
    ties = k - int(np.count_nonzero(above))
    keep = above
    if ties > 0:
        tied = np.flatnonzero(magnitude == threshold)[:ties]
        keep = above.copy()
        keep[tied] = True
    indices = np.flatnonzero(keep).astype(np.uint32)
    return indices, v[indices]


def step(delta, residual, k):
    """One round of top-k with error feedback: returns (payload, new residual). `residual` is
    None for a client without one (zero)."""
    accumulated = np.array(delta, dtype=np.float32, copy=True)
    if residual is not None:
        if residual.size != accumulated.size:
            raise ValueError(f"residual length {residual.size} ≠ delta {accumulated.size}")
        accumulated += residual
    indices, values = select(accumulated, k)
    accumulated[indices] = 0
    return TopKPayload(int(accumulated.size), indices, values.copy()), accumulated
