"""Python client processes in real federations with the real `aviary-server`: a run completes,
a killed process is dropped by liveness and its restart is sampled again, a forged HELLO
without the token is refused, a mixed federation (Swift and Python clients) completes, and the final checkpoint does not
depend on how the clients are spread over processes."""
import time

import zmq

from aviary_client import wire
from aviary_client.messages import Claim, Hello, Welcome
from sdk_harness import Server, binary, kill, python_client, rounds, records, topology, wait_until


def test_python_clients_complete_a_run(tmp_path):
    topo = topology(tmp_path, "py", clients=4, rounds=3)
    server = Server.start(topo, tmp_path / "py", tmp_path / "server.out")
    clients = [python_client(server.endpoint, "0,2", tmp_path / "c0.out"),
               python_client(server.endpoint, "1,3", tmp_path / "c1.out")]
    try:
        assert server.wait() == 0, server.output()
        for c in clients:
            assert c.wait(60) == 0, (tmp_path / "c0.out").read_text()
    finally:
        server.stop()
        for c in clients:
            kill(c)
    done = rounds(tmp_path / "py")
    assert [r["round"] for r in done] == [1, 2, 3]
    assert all(r["accepted"] == r["sampled"] for r in done), done
    assert done[-1]["client_metrics"][str(done[-1]["accepted"][0])]["train_loss"] > 0
    assert records(tmp_path / "py")[-1]["status"] == "completed"


def test_a_killed_python_process_is_dropped_and_its_restart_sampled_again(tmp_path):
    topo = topology(tmp_path, "live", clients=4, rounds=6, extra_server="min_clients = 4")
    server = Server.start(topo, tmp_path / "live", tmp_path / "server.out")
    # Each fit lasts the whole liveness window (3 × 0.5 s): the victim is mid-round when it dies,
    # and the survivor stays registered only because heartbeats flow while it fits.
    slow = {"SDK_TEST_FIT_SLEEP": "1.5"}
    survivor = python_client(server.endpoint, "0,2", tmp_path / "c0.out", env=slow)
    victim = python_client(server.endpoint, "1,3", tmp_path / "c1.out", env=slow)
    try:
        wait_until("round 1", lambda: rounds(tmp_path / "live"))
        killed_at = time.monotonic()
        kill(victim)
        wait_until("the lost process", lambda: any(r.get("event") == "process_lost" for r in records(tmp_path / "live")))
        assert time.monotonic() - killed_at < 10, "liveness (3 × 0.5 s) should notice within seconds"
        victim = python_client(server.endpoint, "1,3", tmp_path / "c1-restarted.out", env=slow)
        assert server.wait(300) == 0, server.output()
        assert survivor.wait(60) == 0 and victim.wait(60) == 0
    finally:
        server.stop()
        kill(survivor)
        kill(victim)
    done = rounds(tmp_path / "live")
    assert len(done) == 6
    assert any(set(r.get("lost") or []) == {1, 3} for r in done), [r.get("lost") for r in done]
    assert not any({0, 2} & set(r.get("lost") or []) for r in done), "the survivor was dropped during fit"
    assert done[-1]["sampled"] == [0, 1, 2, 3] and done[-1]["accepted"] == [0, 1, 2, 3]


def test_a_forged_hello_without_the_token_is_refused(tmp_path):
    topo = topology(tmp_path, "forge", clients=2, rounds=2, extra_server="min_clients = 2")
    server = Server.start(topo, tmp_path / "forge", tmp_path / "server.out")
    holder = python_client(server.endpoint, "0", tmp_path / "c0.out", env={"SDK_TEST_FIT_SLEEP": "0.2"})
    ctx = zmq.Context()
    stranger = ctx.socket(zmq.DEALER)
    try:
        wait_until("client 0 registered",
                   lambda: any(r.get("event") == "clients_registered" for r in records(tmp_path / "forge")), 60)
        stranger.connect(server.endpoint)
        stranger.send(wire.encode(Hello("stranger", [Claim(0, 0)])))
        assert stranger.poll(20000), "the server did not answer the forged HELLO"
        answer = wire.decode(stranger.recv())
        assert isinstance(answer, Welcome) and answer.accepted == []
        assert len(answer.refused) == 1 and answer.refused[0].retry and answer.refused[0].indices == [(0, 0)]
        stranger.close(0)
        rest = python_client(server.endpoint, None, tmp_path / "c1.out", extra=["--count", "1"])  # gets the free slot, 1
        assert server.wait(300) == 0, server.output()
        assert holder.wait(60) == 0 and rest.wait(60) == 0
    finally:
        stranger.close(0)
        ctx.term()
        server.stop()
        kill(holder)
    done = rounds(tmp_path / "forge")
    assert [r["accepted"] for r in done] == [[0, 1], [0, 1]]


def test_a_mixed_federation_of_swift_and_python_clients_completes(tmp_path):
    topo = topology(tmp_path, "mixed", clients=4, rounds=3, extra_server="min_clients = 4")
    server = Server.start(topo, tmp_path / "mixed", tmp_path / "server.out")
    swift_log = open(tmp_path / "swift.out", "wb")
    import subprocess
    swift = subprocess.Popen([binary("aviary-client"), "--connect", server.endpoint, "--clients", "0,1"],
                             stdout=swift_log, stderr=subprocess.STDOUT)
    py = python_client(server.endpoint, "2,3", tmp_path / "py.out")
    try:
        assert server.wait(300) == 0, server.output()
        assert swift.wait(60) == 0 and py.wait(60) == 0
    finally:
        server.stop()
        kill(swift)
        kill(py)
    done = rounds(tmp_path / "mixed")
    assert [r["round"] for r in done] == [1, 2, 3]
    assert all(r["accepted"] == [0, 1, 2, 3] for r in done), [r["accepted"] for r in done]


def test_the_final_checkpoint_does_not_depend_on_how_clients_are_spread_over_processes(tmp_path):
    def run(label, shares):
        directory = tmp_path / label  # the same run name each time: it is in the checkpoint's metadata
        directory.mkdir()
        topo = topology(directory, "det", clients=4, rounds=3, extra_server="min_clients = 4")
        server = Server.start(topo, directory / "det", directory / "server.out")
        clients = [python_client(server.endpoint, share, directory / f"c{i}.out") for i, share in enumerate(shares)]
        try:
            assert server.wait(300) == 0, server.output()
            assert all(c.wait(60) == 0 for c in clients)
        finally:
            server.stop()
            for c in clients:
                kill(c)
        return (directory / "det" / "checkpoints" / "round-0003.safetensors").read_bytes()

    one = run("one", ["0-3"])
    assert run("two", ["0,2", "1,3"]) == one
    assert run("four", ["0", "1", "2", "3"]) == one
