"""`aviary run` starting Python client processes from `[processes] command`: an all-Python run
on the built-in MLP, a mixed one (an aviary-client process beside a Python one), and an external
model (`[model] kind = "external"`, initial values from a safetensors file) that only the
Python clients can train. The launcher appends aviary-client's flags; the SDK takes them."""
import os
import subprocess
import sys

import numpy as np
import pytest

from sdk_harness import APPS, binary, rounds, records
from sdk_harness import topology as harness_topology

COMMAND = f'command = ["{sys.executable}", "-m", "aviary_client", "--app", "numpy_mlp:make_client"]'


def topology(directory, name, processes, model='kind = "mlp"\nhidden = [16]'):
    return harness_topology(directory, name, clients=4, rounds=3, extra_server="min_clients = 4",
                            extra=f"[processes]\n{processes}\n", model=model)


def require_launcher():
    """The built aviary-server these runs need (aviary run starts it)."""
    binary("aviary-server")


def aviary_run(aviary, topo, timeout=300):
    require_launcher()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APPS), *sys.path]), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([aviary, "run", str(topo)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("processes", [f"{COMMAND}\ncount = 2", f"client_processes = 1\n{COMMAND}\ncount = 1"],
                         ids=["python-only", "mixed"])
def test_aviary_run_starts_python_client_processes(aviary, tmp_path, processes):
    result = aviary_run(aviary, topology(tmp_path, "run", processes))
    assert result.returncode == 0, result.stdout + result.stderr
    done = rounds(tmp_path / "run")
    assert [r["accepted"] for r in done] == [[0, 1, 2, 3]] * 3
    assert records(tmp_path / "run")[-1]["status"] == "completed"


def test_an_external_model_is_trained_by_python_clients(aviary, tmp_path):
    from safetensors.numpy import load_file, save_file

    require_launcher()
    rng = np.random.default_rng(0)
    init = {"fc1.weight": rng.normal(0, 0.1, (8, 60)).astype(np.float32), "fc1.bias": np.zeros(8, np.float32),
            "fc2.weight": rng.normal(0, 0.1, (10, 8)).astype(np.float32), "fc2.bias": np.zeros(10, np.float32)}
    save_file(init, str(tmp_path / "init.safetensors"))
    topo = topology(tmp_path, "ext", f"{COMMAND}\ncount = 2", model='kind = "external"\nparameters = "init.safetensors"')
    result = aviary_run(aviary, topo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["accepted"] for r in rounds(tmp_path / "ext")] == [[0, 1, 2, 3]] * 3
    final = load_file(str(tmp_path / "ext" / "checkpoints" / "round-0003.safetensors"))
    assert {k: v.shape for k, v in final.items()} == {k: v.shape for k, v in init.items()}
    assert not np.array_equal(final["fc1.weight"], init["fc1.weight"]), "the clients trained it"
