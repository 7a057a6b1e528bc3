"""Error-feedback residuals in the Python SDK: ResidualHistory's rules, the state directory's
layout and safetensors bytes (as the Swift client writes them), refusals of foreign files, and
the compressor replaying a round with the residual its first attempt used."""
import os
import struct

import numpy as np
import pytest

from aviary_client.compressor import DeltaCompressor
from aviary_client.deltas import DeltaFormat, Encoding
from aviary_client.residual_history import ResidualHistory, Version
from aviary_client.residual_store import (DirectoryResidualStore, MemoryResidualStore, ResidualStoreError,
                                          safetensors_bytes)

V = Version


def test_a_round_uses_the_newest_live_version_before_it():
    h = ResidualHistory()
    stored = [V(1, 0), V(3, 0), V(4, 0)]
    assert h.residual_for_round(4, stored) == V(3, 0)
    assert h.residual_for_round(5, stored) == V(4, 0)
    assert h.residual_for_round(1, stored) is None


def test_a_resume_kills_versions_of_replayed_rounds():
    h = ResidualHistory(resumes=[2])  # resumed after round 2: generation 0's rounds 3+ are dead
    assert h.is_dead(V(3, 0)) and not h.is_dead(V(2, 0)) and not h.is_dead(V(3, 1))
    assert h.residual_for_round(4, [V(2, 0), V(3, 0)]) == V(2, 0)
    assert h.residual_for_round(4, [V(2, 0), V(3, 0), V(3, 1)]) == V(3, 1)


def test_deletable_keeps_the_newest_settled_and_everything_after():
    h = ResidualHistory()
    assert h.deletable([V(1, 0), V(2, 0), V(3, 0), V(4, 0)], saved=2) == [V(1, 0)]
    h = ResidualHistory(resumes=[1])
    assert h.deletable([V(1, 0), V(2, 0), V(2, 1)], saved=0) == [V(2, 0)]


def test_max_age_forgets_and_deletes_old_residuals():
    h = ResidualHistory(max_age=2)
    assert h.residual_for_round(5, [V(2, 0)]) is None
    assert h.residual_for_round(4, [V(2, 0)]) == V(2, 0)
    assert h.deletable([V(2, 0)], saved=4) == [V(2, 0)]


def test_files_have_the_swift_layout_and_header(tmp_path):
    store = DirectoryResidualStore(str(tmp_path), "run-abc")
    store.save(42, V(7, 1), np.array([1, -2], np.float32))
    path = tmp_path / "run-abc" / "client-000042" / "r0007-g1.safetensors"
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = data[8:8 + n]
    assert header.rstrip(b" ") == (b'{"__metadata__":{"client":"42","generation":"1","round":"7","run":"run-abc"},'
                                   b'"residual":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')
    assert (8 + n) % 8 == 0 and data[8 + n:] == np.array([1, -2], np.float32).tobytes()
    assert store.versions(42) == [V(7, 1)] and store.clients() == [42]
    assert store.load(42, V(7, 1), 2).tolist() == [1, -2]
    from safetensors.numpy import load_file
    assert load_file(str(path))["residual"].tolist() == [1, -2]


def test_foreign_or_damaged_files_are_refused_with_their_path(tmp_path):
    store = DirectoryResidualStore(str(tmp_path), "run-a")
    os.makedirs(store.directory(3))
    wrong = safetensors_bytes("residual", np.zeros(2, np.float32),
                              {"client": "4", "generation": "0", "round": "1", "run": "run-a"})
    open(store.path(3, V(1, 0)), "wb").write(wrong)
    with pytest.raises(ResidualStoreError, match="metadata.client is 4, expected 3"):
        store.load(3, V(1, 0), 2)
    store.save(3, V(2, 0), np.zeros(5, np.float32))
    with pytest.raises(ResidualStoreError, match="length is 5, expected 2"):
        store.load(3, V(2, 0), 2)
    open(store.path(3, V(4, 0)), "wb").write(b"not safetensors")
    with pytest.raises(ResidualStoreError, match="r0004-g0.safetensors cannot be read"):
        store.load(3, V(4, 0), 2)
    with pytest.raises(ResidualStoreError, match="cannot name a directory"):
        DirectoryResidualStore(str(tmp_path), "../x")


def test_interrupted_writes_are_cleaned_and_empty_client_dirs_removed(tmp_path):
    store = DirectoryResidualStore(str(tmp_path), "r")
    store.save(1, V(1, 0), np.zeros(1, np.float32))
    open(store.path(1, V(2, 0)) + ".tmp-99", "wb").write(b"x")
    assert store.versions(1) == [V(1, 0)]
    assert os.listdir(store.directory(1)) == ["r0001-g0.safetensors"]
    store.delete(1, V(1, 0))
    assert not os.path.exists(store.directory(1))


@pytest.mark.parametrize("make_store", ["memory", "directory"])
def test_training_a_round_again_sends_the_same_update(tmp_path, make_store):
    store = MemoryResidualStore() if make_store == "memory" else DirectoryResidualStore(str(tmp_path), "run")
    fmt = DeltaFormat(Encoding("topk", 0.1), [60, 40])
    c = DeltaCompressor(fmt, ResidualHistory(), store)
    rng = np.random.default_rng(0)
    d1, d2 = (rng.normal(size=100).astype(np.float32) for _ in range(2))
    c.model_arrived(1)
    c.encode(1, 7, d1)
    c.model_arrived(2)
    first, _ = c.encode(2, 7, d2)
    again, _ = c.encode(2, 7, d2)  # a TRAIN re-sent after a reconnect
    assert first.indices.tolist() == again.indices.tolist() and (first.values == again.values).all()
    c.model_arrived(5)  # round 3 saved: only the newest settled version and later stay
    assert sorted(store.versions(7)) == [V(2, 0)]


def test_resumed_run_replays_with_the_residual_the_first_attempt_used(tmp_path):
    fmt = DeltaFormat(Encoding("topk", 0.05), [100])
    rng = np.random.default_rng(1)
    ds = [rng.normal(size=100).astype(np.float32) for _ in range(4)]

    def run(rounds, compressor):
        out = []
        for r in rounds:
            compressor.model_arrived(r)
            out.append(compressor.encode(r, 0, ds[r - 1])[0])
        return out

    straight = run([1, 2, 3, 4], DeltaCompressor(fmt, ResidualHistory(), MemoryResidualStore()))
    store = DirectoryResidualStore(str(tmp_path), "run")
    run([1, 2, 3], DeltaCompressor(fmt, ResidualHistory(), store))  # killed after training round 3
    resumed = DeltaCompressor(fmt, ResidualHistory(resumes=[2]), store)  # the server resumed after round 2
    replay = run([3, 4], resumed)
    for a, b in zip(straight[2:], replay):
        assert a.indices.tolist() == b.indices.tolist() and (a.values == b.values).all()


@pytest.mark.parametrize("name,stochastic", [("f16", False), ("int8", False), ("int8", True)])
def test_quantised_error_feedback_keeps_residuals_and_replays(tmp_path, name, stochastic):
    fmt = DeltaFormat(Encoding(name), [70, 30])
    store = DirectoryResidualStore(str(tmp_path), "run")
    c = DeltaCompressor(fmt, ResidualHistory(), store, stochastic=stochastic, error_feedback=True, training_seed=13)
    rng = np.random.default_rng(2)
    d1, d2 = (rng.normal(size=100).astype(np.float32) for _ in range(2))
    first, _ = c.encode(1, 4, d1)
    residual = store.load(4, V(1, 0), 100)
    from aviary_client import deltas
    assert (residual == d1 - deltas.decode(first, fmt)).all(), "the residual is what the encoding lost"
    second, _ = c.encode(2, 4, d2)
    again, _ = c.encode(2, 4, d2)  # the round trained again: the same residual, the same rounding
    assert deltas.decode(second, fmt).tolist() == deltas.decode(again, fmt).tolist()
    assert (store.load(4, V(2, 0), 100) == (d2 + residual) - deltas.decode(second, fmt)).all()
