"""kill -9 of the server and `aviary-server --resume`, with Python clients that ride through
the restart and keep top-k error-feedback residuals in --state-dir: the final checkpoint is
byte for byte the uninterrupted run's."""
import shutil
import signal
import tempfile

from sdk_harness import Server, kill, python_client, rounds, records, topology, wait_until

ROUNDS = 5


def run(directory, socket, crash_at=None):
    topo = topology(directory, "r", clients=4, rounds=ROUNDS, extra_server=f'bind = "{socket}"\nmin_clients = 4',
                    extra='[compression]\nencoding = "topk"\ntopk_fraction = 0.05\n')
    env = {"AVIARY_CRASH_AT": crash_at} if crash_at else None
    server = Server.start(topo, directory / "r", directory / "server1.out", env=env)
    state = str(directory / "client-state")
    clients = [python_client(server.endpoint, "0,2", directory / "c0.out", extra=["--state-dir", state]),
               python_client(server.endpoint, "1,3", directory / "c1.out", extra=["--state-dir", state])]
    try:
        status = server.wait(300)
        if crash_at:
            assert status == -signal.SIGKILL, f"the crash point {crash_at} was never reached:\n{server.output()}"
            assert all(c.poll() is None for c in clients), "clients must wait for the server to come back"
            server = Server(["--resume", str(directory / "r")], directory / "r", directory / "server2.out")
            status = server.wait(300)
        assert status == 0, server.output()
        for c in clients:
            assert c.wait(60) == 0
    finally:
        server.stop()
        for c in clients:
            kill(c)
    return (directory / "r" / "checkpoints" / f"round-{ROUNDS:04d}.safetensors").read_bytes()


def test_server_killed_mid_run_resumes_to_the_same_final_checkpoint(tmp_path):
    sockets = tempfile.mkdtemp(prefix="sdk-", dir="/tmp")  # ipc paths must stay short
    try:
        (tmp_path / "ref").mkdir()
        (tmp_path / "crash").mkdir()
        reference = run(tmp_path / "ref", f"ipc://{sockets}/ref.sock")
        resumed = run(tmp_path / "crash", f"ipc://{sockets}/crash.sock", crash_at="round-started:3")
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    assert resumed == reference
    log = records(tmp_path / "crash" / "r")
    assert [r["round"] for r in rounds(tmp_path / "crash" / "r")] == list(range(1, ROUNDS + 1))
    assert log[-1]["status"] == "completed"
