"""Real processes for the SDK's integration tests: `aviary-server` (found beside the `aviary`
binary the existing conftest uses), Python client processes running an app from sdk_apps/,
and the run's aggregation log read back."""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from aviary_client.messages import PROTOCOL_VERSION

from conftest import aviary_binary

APPS = pathlib.Path(__file__).resolve().parent / "sdk_apps"


ROOT = pathlib.Path(__file__).resolve().parents[2]


def swift_protocol_version():
    """The protocol version the Swift side of this tree speaks (Messages.swift)."""
    text = (ROOT / "Sources" / "AviaryProtocol" / "Messages.swift").read_text()
    match = re.search(r"public let protocolVersion: UInt16 = (\d+)", text)
    return int(match.group(1)) if match else None


def binary(name):
    swift = swift_protocol_version()
    if swift != PROTOCOL_VERSION:
        pytest.skip(f"the Swift side of this tree speaks protocol {swift}, the Python SDK {PROTOCOL_VERSION}")
    path = aviary_binary().parent / name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: run `swift build -c release` (make test does)")
        pytest.skip(f"{path} is missing: run `swift build -c release --product {name}` first")
    return str(path)


def topology(directory, name, clients, rounds, extra_server="", extra="", model='kind = "mlp"\nhidden = [16]'):
    text = f"""
[run]
name = "{name}"
rounds = {rounds}
output = "{directory}"

[seeds]
partition = 11
sampling = 12
training = 13

[data]
dataset = "synthetic"
alpha = 1.0
beta = 1.0
clients = {clients}

[model]
{model}

[train]
local_epochs = 1
batch_size = 10
learning_rate = 0.05

[server]
round_timeout = 600
registration_timeout = 120
heartbeat_interval = 0.5
{extra_server}
{extra}
"""
    path = pathlib.Path(directory) / f"{name}.toml"
    path.write_text(text)
    return path


class Server:
    def __init__(self, args, run_dir, log, env=None):
        self.run_dir = pathlib.Path(run_dir)
        self.log = log
        self.out = open(log, "wb")
        e = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
        self.proc = subprocess.Popen([binary("aviary-server"), *args], stdout=self.out, stderr=subprocess.STDOUT, env=e)
        self.endpoint = None

    @classmethod
    def start(cls, topology_path, run_dir, log, env=None, args=()):
        server = cls(["--topology", str(topology_path), *args], run_dir, log, env)
        server.wait_endpoint()
        return server

    def wait_endpoint(self, timeout=60):
        path = self.run_dir / "endpoint"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().endswith("\n"):
                self.endpoint = path.read_text().strip()
                return self.endpoint
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the server never listened; see {self.log}:\n{self.output()}")

    def output(self):
        return pathlib.Path(self.log).read_text(errors="replace")

    def wait(self, timeout=300):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not finish in {timeout} s; see {self.log}") from None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def python_client(endpoint, clients, log, app="numpy_mlp:make_client", extra=(), env=None):
    out = open(log, "wb")
    e = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APPS), *sys.path]), **(env or {})}
    args = [sys.executable, "-m", "aviary_client", "--app", app, "--connect", endpoint, *extra]
    if clients is not None:
        args += ["--clients", clients]
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=APPS, env=e)


def records(run_dir):
    path = pathlib.Path(run_dir) / "aggregation.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written
    return out


def rounds(run_dir):
    return [r for r in records(run_dir) if r.get("event") == "round"]


def wait_until(what, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def kill(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
