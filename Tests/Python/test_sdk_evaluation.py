"""Evaluation without a server-side model, with the real `aviary-server`: an external model
(`[model] kind = "external"`) trained by Python clients and evaluated either by the clients on
their held-out splits (`[evaluation] mode = "federated"`) or by the evaluator process
(`python -m aviary_client evaluate`, `mode = "evaluator"`). The run completes, every round's
`eval` is the right aggregate, and `aviary logs` and `aviary report` render it."""
import os
import subprocess
import sys

import numpy as np
import pytest

from sdk_harness import APPS, Server, kill, python_client, records, rounds, topology, wait_until


def external_topology(tmp_path, name, mode):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    init = {"fc1.weight": rng.normal(0, 0.1, (8, 60)).astype(np.float32), "fc1.bias": np.zeros(8, np.float32),
            "fc2.weight": rng.normal(0, 0.1, (10, 8)).astype(np.float32), "fc2.bias": np.zeros(10, np.float32)}
    save_file(init, str(tmp_path / "init.safetensors"))
    return topology(tmp_path, name, clients=4, rounds=3, extra_server="min_clients = 4",
                    model='kind = "external"\nparameters = "init.safetensors"',
                    extra=f'[evaluation]\nmode = "{mode}"\n')


@pytest.mark.parametrize("mode", ["federated", "evaluator"])
def test_an_external_model_is_evaluated_without_the_server_running_it(aviary, tmp_path, mode):
    topo = external_topology(tmp_path, "ev", mode)
    run = tmp_path / "ev"
    server = Server.start(topo, run, tmp_path / "server.log")
    procs = []
    try:
        if mode == "evaluator":
            out = open(tmp_path / "evaluator.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "aviary_client", "evaluate", "--app", "numpy_mlp:make_client",
                 "--connect", server.endpoint, "--name", "the-evaluator"],
                stdout=out, stderr=subprocess.STDOUT, cwd=APPS,
                env={**os.environ, "PYTHONPATH": os.pathsep.join([str(APPS), *sys.path])}))
            # Rounds start when the trainers are in: the evaluator registers first.
            wait_until("the evaluator's registration",
                       lambda: any(r.get("event") == "evaluator_registered" for r in records(run)), timeout=60)
        procs.append(python_client(server.endpoint, "0-3", tmp_path / "clients.log"))
        assert server.wait() == 0, server.output()
        logs = ["evaluator.log"] * (mode == "evaluator") + ["clients.log"]
        for p, log in zip(procs, logs):
            assert p.wait(timeout=60) == 0, (tmp_path / log).read_text()
    finally:
        for p in procs:
            kill(p)
        server.stop()

    done = rounds(run)
    assert [r["round"] for r in done] == [1, 2, 3]
    for r in done:
        e = r["eval"]
        assert e["mode"] == mode
        assert "refused" not in e and "missing" not in e
        if mode == "federated":
            clients = e["clients"]
            assert sorted(clients) == ["0", "1", "2", "3"]
            # numpy_mlp's clients evaluate on 30 held-out samples each.
            assert all(c["samples"] == 30 for c in clients.values())
            assert e["samples"] == 120
            mean = sum(c["accuracy"] * c["samples"] for c in clients.values()) / 120
            assert abs(e["clean_accuracy"] - mean) < 1e-12
        else:
            assert "clients" not in e and e["samples"] == 30
    end = records(run)[-1]
    assert end["event"] == "run_end" and end["status"] == "completed"
    assert end["final_eval"] == done[-1]["eval"]

    logs = subprocess.run([aviary, "logs", str(run)], capture_output=True, text=True, timeout=60)
    assert logs.returncode == 0, logs.stderr
    assert f'{done[-1]["eval"]["clean_accuracy"]:.4f}' in logs.stdout, logs.stdout
    assert ("federated evaluation" if mode == "federated" else "by the evaluator process") in logs.stdout, logs.stdout
    report = subprocess.run([aviary, "report", str(run)], capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stdout + report.stderr
    html = (run / "report.html").read_text()
    assert f'{done[-1]["eval"]["clean_accuracy"]:.4f}' in html
