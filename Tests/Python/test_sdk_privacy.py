"""`[privacy]` in the Python SDK (python/aviary_client/privacy.py): clipping by hand, the noise
stream fixed by (seed, client, round) with the calibrated std, adaptive clipping's clip norm from
TRAIN and the `unclipped` bit, the in-memory host sending clipped and noised updates, and real
runs against the real aviary-server: local DP (per-client ε logged, reproducible run to run) and
adaptive clipping on the client (the clip norm's trajectory, no update refused)."""
import numpy as np
import pytest

from aviary_client.messages import Failure, Train, Update
from aviary_client.privacy import Privacy, PrivacyError, add_noise, clip, noise_stream
from sdk_fakes import AddOne, run_spec
from sdk_harness import Server, kill, python_client, records, rounds, topology
from test_sdk_host import TABLE, finish, model, start

LOCAL = {"mode": "local", "clipOn": "client", "clipping": "fixed", "clipNorm": 1, "noiseMultiplier": 0.5, "seed": 6}
ADAPTIVE = {"mode": "central", "clipOn": "client", "clipping": "adaptive", "clipNorm": 0.5, "noiseMultiplier": 1, "seed": 6}


def test_clip_scales_into_the_ball_and_returns_the_norm_before():
    d = np.array([3, 4, 0], np.float32)
    assert clip(d, 1.0) == 5.0
    assert np.allclose(d, [0.6, 0.8, 0], atol=1e-7)
    small = np.array([0.3, 0.4], np.float32)
    assert clip(small, 1.0) == pytest.approx(0.5)
    assert (small == np.array([0.3, 0.4], np.float32)).all()


def test_the_noise_stream_is_fixed_by_seed_client_and_round_and_has_the_calibrated_std():
    def draw(seed, client, round_, n=200_000, std=0.5):
        x = np.zeros(n, np.float32)
        add_noise(x, std, noise_stream(seed, client, round_))
        return x
    a = draw(6, 3, 7)
    assert (a == draw(6, 3, 7)).all()  # reproducible
    for other in (draw(6, 4, 7), draw(6, 3, 8), draw(7, 3, 7)):
        assert not (a == other).all()
    assert abs(a.std() / 0.5 - 1) < 0.02 and abs(a.mean()) < 0.01


def test_local_dp_clips_then_noises_with_z_times_s():
    p = Privacy.from_spec(LOCAL)
    d = np.full(8, 1, np.float32)  # ‖Δ‖ = √8
    assert p.apply(d, 2, 5, {}) == {}
    expected = np.full(8, 1 / np.sqrt(8), np.float32)
    add_noise(expected, 0.5 * 1, noise_stream(6, 2, 5))
    assert (d == expected).all()


def test_adaptive_clipping_on_the_client_uses_trains_clip_norm_and_reports_the_bit():
    p = Privacy.from_spec(ADAPTIVE)
    big = np.full(8, 1, np.float32)
    assert p.apply(big, 0, 1, {"clip_norm": 2.0}) == {"unclipped": 0.0}
    assert np.linalg.norm(big) == pytest.approx(2.0, rel=1e-6)
    small = np.full(8, 0.1, np.float32)
    assert p.apply(small, 0, 1, {"clip_norm": 2.0}) == {"unclipped": 1.0}
    assert (small == np.full(8, 0.1, np.float32)).all()
    for config in ({}, {"clip_norm": 0.0}, {"clip_norm": float("nan")}):
        with pytest.raises(PrivacyError, match="clip_norm"):
            p.apply(np.ones(8, np.float32), 0, 1, config)
    assert Privacy.from_spec({"mode": "central", "clipOn": "server"}).apply(big, 0, 1, {}) == {}
    assert Privacy.from_spec(None) is None and Privacy.from_spec({"mode": "none"}) is None


def test_the_host_sends_clipped_noised_updates_and_fails_a_train_without_its_clip_norm():
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), spec=run_spec(TABLE, privacy=LOCAL))
    conn.inbox.put(model(1, 0.25))
    conn.inbox.put(Train(1, [0], {}))
    u = conn.expect(Update)
    expected = np.full(8, 1 / np.sqrt(8), np.float32)
    add_noise(expected, 0.5, noise_stream(6, 0, 1))
    assert (u.payload.values == expected).all()
    finish(conn, t, outcome)

    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), spec=run_spec(TABLE, privacy=ADAPTIVE))
    conn.inbox.put(model(1, 0.25))
    conn.inbox.put(Train(1, [0], {"clip_norm": 0.5}))
    u = conn.expect(Update)
    assert u.metrics["unclipped"] == 0.0 and np.linalg.norm(u.payload.values) == pytest.approx(0.5, rel=1e-6)
    conn.inbox.put(model(2, 0.25))
    conn.inbox.put(Train(2, [1], {}))
    f = conn.expect(Failure)
    assert f.client_index == 1 and "clip_norm" in f.reason
    finish(conn, t, outcome)


def _run(tmp_path, name, privacy, rounds_=3):
    topo = topology(tmp_path, name, clients=4, rounds=rounds_, extra=privacy)
    server = Server.start(topo, tmp_path / name, tmp_path / f"{name}-server.out")
    clients = [python_client(server.endpoint, "0,2", tmp_path / f"{name}-c0.out"),
               python_client(server.endpoint, "1,3", tmp_path / f"{name}-c1.out")]
    try:
        assert server.wait() == 0, server.output()
        for c in clients:
            assert c.wait(60) == 0, (tmp_path / f"{name}-c0.out").read_text()
    finally:
        server.stop()
        for c in clients:
            kill(c)
    return rounds(tmp_path / name), records(tmp_path / name)[-1]


def test_python_clients_run_local_dp_reproducibly_against_the_real_server(tmp_path):
    privacy = '[privacy]\nmode = "local"\nclip_norm = 0.5\nnoise_multiplier = 1\ndelta = 1e-3'
    done, end = _run(tmp_path, "local-a", privacy)
    assert [r["round"] for r in done] == [1, 2, 3]
    assert all(r["accepted"] == r["sampled"] for r in done), done
    assert all(set(r["privacy"]["client_epsilon"]) == {str(c) for c in r["sampled"]} for r in done)
    assert end["status"] == "completed" and end["privacy"]["participants"] == 4
    again, _ = _run(tmp_path, "local-b", privacy)
    # The same seeds: the same noised updates, so the same merged deltas, bit for bit in the log.
    assert [r["update_norm"] for r in done] == [r["update_norm"] for r in again]


def test_python_clients_clip_to_the_adaptive_clip_norm_against_the_real_server(tmp_path):
    privacy = ('[merge]\nstrategy = "uniform"\n[privacy]\nmode = "central"\nclipping = "adaptive"\nclip_on = "client"\n'
               'clip_norm = 0.5\nnoise_multiplier = 0.5\nclipped_count_stddev = 1\ndelta = 1e-3')
    done, end = _run(tmp_path, "adaptive", privacy, rounds_=4)
    assert end["status"] == "completed", end
    for r in done:
        assert r["rejected"] == [], r["rejected"]
        bits = [r["client_metrics"][str(c)]["unclipped"] for c in r["accepted"]]
        assert set(bits) <= {0, 1} and r["privacy"]["unclipped"] == sum(bits)
    trajectory = [r["privacy"]["clip_norm"] for r in done]
    assert trajectory[0] == 0.5 and len(set(trajectory)) > 1
    assert all(a["privacy"]["next_clip_norm"] == b["privacy"]["clip_norm"] for a, b in zip(done, done[1:]))
