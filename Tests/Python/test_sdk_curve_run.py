"""CURVE end to end: Python clients with the key files `aviary keygen` writes complete a run
against `aviary-server --curve-secret --allow`, and a key that is not on the allow-list is
refused at once with a message saying so (exit 1)."""
import subprocess

from sdk_harness import Server, kill, python_client, rounds, topology


def keygen(aviary, directory, *args):
    r = subprocess.run([aviary, "keygen", "--dir", str(directory), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_python_clients_run_with_curve_and_a_stranger_key_is_refused(aviary, tmp_path):
    keys = tmp_path / "keys"
    keygen(aviary, keys, "--processes", "2", "--clients", "4")
    keygen(aviary, tmp_path / "stranger", "intruder")
    topo = topology(tmp_path, "curve", clients=4, rounds=2, extra_server="min_clients = 4")
    server = Server.start(topo, tmp_path / "curve", tmp_path / "server.out",
                          args=["--curve-secret", str(keys / "server.secret"), "--allow", str(keys / "allowed.txt")])
    curve = ["--server-public", str(keys / "server.public")]
    intruder = python_client(server.endpoint, "1", tmp_path / "intruder.out",
                             extra=["--curve-secret", str(tmp_path / "stranger" / "intruder.secret"), *curve])
    clients = []
    try:
        # The intruder must be refused while the server still runs: min_clients = 4 holds the
        # run until the legitimate clients start, and they start only after the refusal (a
        # slow interpreter start under load once let the run finish first, and an intruder
        # with no server to refuse it waits out --server-timeout instead).
        assert intruder.wait(60) == 1, (tmp_path / "intruder.out").read_text()
        clients = [python_client(server.endpoint, None, tmp_path / f"c{i}.out",
                                 extra=["--shard", f"{i}/2", "--of", "4", "--curve-secret", str(keys / f"client-{i}.secret"), *curve])
                   for i in range(2)]
        assert server.wait(300) == 0, server.output()
        assert all(c.wait(60) == 0 for c in clients)
    finally:
        server.stop()
        for c in [intruder, *clients]:
            kill(c)
    assert "refused this client's CURVE key" in (tmp_path / "intruder.out").read_text()
    assert [r["accepted"] for r in rounds(tmp_path / "curve")] == [[0, 1, 2, 3]] * 2
