"""Shared fixtures: the aviary binary make built, and one small real run to export."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def aviary_binary():
    return pathlib.Path(os.environ.get("AVIARY", ROOT / ".build" / "release" / "aviary")).resolve()


@pytest.fixture(scope="session")
def aviary():
    binary = aviary_binary()
    if not binary.is_file():
        # Under CI a missing binary is a failure (make test builds it first), never a quiet skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is missing: run `swift build -c release` (make test does)")
        pytest.skip(f"{binary} is missing: run `swift build -c release` first")
    return str(binary)


TOPOLOGY = """
[run]
name = "{name}"
rounds = 3
output = "{output}"

[seeds]
partition = 11
sampling = 12
training = 13

[data]
dataset = "synthetic"
alpha = 1.0
beta = 1.0
clients = 3

[model]
kind = "mlp"
hidden = [16]

[train]
local_epochs = 1
batch_size = 10
learning_rate = 0.05

[server]
round_timeout = 60
registration_timeout = 60

[processes]
client_processes = 1
"""


@pytest.fixture(scope="session")
def finished_run(aviary, tmp_path_factory):
    """A real 3-round run on synthetic data, made by `aviary run`."""
    out = tmp_path_factory.mktemp("runs")
    topology = out / "tiny.toml"
    topology.write_text(TOPOLOGY.format(name="tiny", output=out))
    result = subprocess.run([aviary, "run", str(topology)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "tiny"


def logs_csv(aviary, run):
    """`aviary logs RUN --csv` as a list of dicts, the reference every export is compared with."""
    import csv
    import io

    result = subprocess.run([aviary, "logs", str(run), "--csv"], capture_output=True, text=True, check=True)
    return list(csv.DictReader(io.StringIO(result.stdout)))
