"""Torch clients behind the real `aviary-server`: the final checkpoint of a federation of torch
adapter clients is byte-identical when the run is repeated and when the clients are spread over
another number of client processes (the adapter seeds every client and round from the run
spec's training seed and runs torch's deterministic algorithms on one thread)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="the torch adapter needs PyTorch (Debian's python3-torch)")

from sdk_harness import APPS, Server, kill, python_client, rounds, topology  # noqa: E402


def init_model(directory):
    subprocess.run([sys.executable, "-m", "aviary_client", "init-model", "torch_mlp:make_model", "-o",
                    str(directory / "init.safetensors")], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join([str(APPS), *sys.path])}, cwd=directory)


def test_torch_federation_checkpoints_repeat_across_runs_and_process_counts(tmp_path):
    def run(label, shares):
        directory = tmp_path / label  # the same run name each time: it is in the checkpoint's metadata
        directory.mkdir()
        init_model(directory)
        topo = topology(directory, "torchdet", clients=4, rounds=3, extra_server="min_clients = 4",
                        model=f'kind = "external"\nparameters = "{directory / "init.safetensors"}"',
                        extra="[processes]\nclient_processes = 0")
        server = Server.start(topo, directory / "torchdet", directory / "server.out")
        clients = [python_client(server.endpoint, share, directory / f"c{i}.out", app="torch_mlp:app")
                   for i, share in enumerate(shares)]
        try:
            assert server.wait(300) == 0, server.output()
            assert all(c.wait(60) == 0 for c in clients), [(directory / f"c{i}.out").read_text()[-2000:]
                                                           for i in range(len(shares))]
        finally:
            server.stop()
            for c in clients:
                kill(c)
        assert [r["accepted"] for r in rounds(directory / "torchdet")] == [[0, 1, 2, 3]] * 3
        return (directory / "torchdet" / "checkpoints" / "round-0003.safetensors").read_bytes()

    two = run("two", ["0,2", "1,3"])
    assert run("two-again", ["0,2", "1,3"]) == two
    assert run("one", ["0-3"]) == two
