"""Every delta encoding of the Python SDK: f16 rounding and clamping, int8 per-tensor scales
with round half to even or stochastic rounding, top-k's exact tie rule, error feedback's
identities, and the decoder's refusals (python/aviary_client/deltas.py, topk.py)."""
import numpy as np
import pytest

from aviary_client import deltas, topk
from aviary_client.deltas import DeltaDecodingError, DeltaFormat, Encoding
from aviary_client.messages import Int8Payload, TopKPayload
from aviary_client.random_stream import RandomStream, rounding_stream


def f32(*values):
    return np.array(values, dtype=np.float32)


def test_f16_rounds_to_nearest_even_and_clamps_counting():
    fmt = DeltaFormat(Encoding("f16"), [5])
    # 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
    x = f32(1 + 2**-11, 1 + 3 * 2**-11, 70000, -1e9, 65504)
    payload, clamped = deltas.encode(x, fmt)
    assert clamped == 2
    back = deltas.decode(payload, fmt)
    assert back.tolist() == [1.0, 1 + 2 * 2**-10, 65504, -65504, 65504]


def test_int8_scales_per_tensor_round_half_to_even_and_zero_tensor():
    fmt = DeltaFormat(Encoding("int8"), [3, 2, 0])
    x = f32(127, 0.5, -1.5, 0, 0)
    payload, _ = deltas.encode(x, fmt)
    assert payload.scales.tolist() == [1.0, 0.0, 0.0]
    assert payload.values.tolist() == [127, 0, -2, 0, 0]  # 0.5 -> 0, -1.5 -> -2 (half to even)
    assert (deltas.decode(payload, fmt) == f32(127, 0, -2, 0, 0)).all()


def test_int8_error_is_at_most_half_a_step():
    rng = np.random.default_rng(1)
    x = rng.normal(size=1000).astype(np.float32)
    fmt = DeltaFormat(Encoding("int8"), [600, 400])
    payload, _ = deltas.encode(x, fmt)
    back = deltas.decode(payload, fmt)
    scale = np.repeat(payload.scales, [600, 400])
    assert (np.abs(back - x) <= scale / 2 * (1 + 2**-15)).all()


def test_stochastic_rounding_replays_from_the_client_round_stream_and_is_unbiased():
    fmt = DeltaFormat(Encoding("int8"), [4000])
    x = np.full(4000, 0.3, dtype=np.float32)
    x[0] = 1.0  # scale 1/127: 0.3 * 127 = 38.1 -> 38 or 39
    a, _ = deltas.encode(x, fmt, rounding_stream(13, 5, 2))
    b, _ = deltas.encode(x, fmt, rounding_stream(13, 5, 2))
    c, _ = deltas.encode(x, fmt, rounding_stream(13, 5, 3))
    assert (a.values == b.values).all() and not (a.values == c.values).all()
    assert set(a.values[1:].tolist()) == {38, 39}
    assert abs(a.values[1:].mean() - 38.1) < 0.05


def test_random_stream_matches_swifts_random_stream():
    # Printed by Swift's RandomStream (Sources/AviaryMath/RandomStream.swift) for the stream
    # QuantisationOptions.roundingStream(trainingSeed: 13, client: 5, round: 2) and for
    # RandomStream(seed: UInt64.max, purpose: .other, index: 0xB0FF).
    s = rounding_stream(13, 5, 2)
    assert [s.next(), s.next(), s.next_double()] == [520009417370987179, 14693157315437479871, 0.37413070360250655]
    assert RandomStream(2**64 - 1, 10, 0xB0FF).next() == 7206001249459115142


def test_topk_count_is_ceiling_at_least_one():
    assert topk.topk_count(0.01, 199210) == 1993
    assert topk.topk_count(1e-9, 10) == 1
    assert topk.topk_count(2.0, 10) == 10
    assert topk.topk_count(0.5, 0) == 0


def test_topk_keeps_largest_magnitudes_ties_lower_index_first():
    x = f32(1, -3, 3, 0, 2, -3, 3)
    indices, values = topk.select(x, 3)
    assert indices.tolist() == [1, 2, 5] and values.tolist() == [-3, 3, -3]
    indices, _ = topk.select(f32(0, -0.0, 0, 0), 2)
    assert indices.tolist() == [0, 1]  # -0 and +0 have the same magnitude


def test_topk_matches_a_sort_on_random_data_with_many_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(-20, 20, size=5000).astype(np.float32) / 4
    k = 777
    indices, _ = topk.select(x, k)
    order = sorted(range(x.size), key=lambda i: (-abs(float(x[i])), i))[:k]
    assert indices.tolist() == sorted(order)


def test_topk_error_feedback_identity_holds_exactly_in_f32():
    rng = np.random.default_rng(4)
    delta = rng.normal(size=10000).astype(np.float32)
    old = rng.normal(size=10000).astype(np.float32) * np.float32(0.1)
    payload, new = topk.step(delta, old, 100)
    sent = np.zeros_like(delta)
    sent[payload.indices] = payload.values
    assert ((sent + new) == (delta + old)).all()
    assert (new[payload.indices] == 0).all()
    payload, new = topk.step(delta, None, 100)
    sent = np.zeros_like(delta)
    sent[payload.indices] = payload.values
    assert ((sent + new) == delta).all()


@pytest.mark.parametrize("name", ["f16", "int8"])
def test_quantisation_error_feedback_keeps_what_the_encoding_lost(name):
    rng = np.random.default_rng(5)
    fmt = DeltaFormat(Encoding(name), [300, 200])
    delta = rng.normal(size=500).astype(np.float32)
    residual = rng.normal(size=500).astype(np.float32) * np.float32(0.01)
    payload, _, new = deltas.feedback_step(delta, residual, fmt)
    assert (deltas.decode(payload, fmt) + new == delta + residual).all() or \
        np.allclose(deltas.decode(payload, fmt) + new, delta + residual, rtol=0, atol=1e-6)
    assert (new == (delta + residual) - deltas.decode(payload, fmt)).all()


def test_encoded_sizes_follow_the_protocol_table():
    assert DeltaFormat(Encoding("f32"), [10, 5]).encoded_size() == 9 + 60
    assert DeltaFormat(Encoding("f16"), [10, 5]).encoded_size() == 9 + 30
    assert DeltaFormat(Encoding("int8"), [10, 5]).encoded_size() == 17 + 8 + 15
    assert DeltaFormat(Encoding("topk", 0.2), [10, 5]).encoded_size() == 25 + 8 * 3


def test_decoder_refuses_what_does_not_fit_the_model():
    fmt = DeltaFormat(Encoding("int8"), [2, 1])
    with pytest.raises(DeltaDecodingError, match="delta is encoded as topk; this run uses int8"):
        deltas.decode(TopKPayload(3, np.zeros(1, np.uint32), f32(1)), fmt)
    with pytest.raises(DeltaDecodingError, match="int8 scales has 1 entries, the model needs 2"):
        deltas.decode(Int8Payload(f32(1), np.zeros(3, np.int8)), fmt)
    with pytest.raises(DeltaDecodingError, match="int8 scale of tensor 1 is -1.0"):
        deltas.decode(Int8Payload(f32(1, -1), np.zeros(3, np.int8)), fmt)
    with pytest.raises(DeltaDecodingError, match="int8 value -128 at 2"):
        deltas.decode(Int8Payload(f32(1, 1), np.array([0, 0, -128], np.int8)), fmt)
    tk = DeltaFormat(Encoding("topk", 0.5), [4])
    with pytest.raises(DeltaDecodingError, match="top-k index 9 at position 1 is outside 0..<4"):
        deltas.decode(TopKPayload(4, np.array([0, 9], np.uint32), f32(1, 1)), tk)
    with pytest.raises(DeltaDecodingError, match="top-k index 1 at position 1 does not follow 1"):
        deltas.decode(TopKPayload(4, np.array([1, 1], np.uint32), f32(1, 1)), tk)
    with pytest.raises(DeltaDecodingError, match=r"top-k values\[0\] is not finite"):
        deltas.decode(TopKPayload(4, np.array([0, 1], np.uint32), f32(np.inf, 1)), tk)
