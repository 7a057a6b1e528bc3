"""`python -m aviary_client` as a process: flag errors exit 64 as aviary-client's do, CURVE key
files are loaded and refused as the Swift client does, and a server speaking another protocol
version is refused with a message naming both versions (a real ZeroMQ ROUTER plays the server)."""
import os
import signal
import time
import struct
import subprocess
import sys
import zlib

import pytest
import zmq

from aviary_client import curve_keys, wire
from aviary_client.messages import Reject


def sdk(*args, timeout=60, cwd=None):
    return subprocess.run([sys.executable, "-m", "aviary_client", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def test_bad_flags_exit_64_naming_the_problem():
    r = sdk("--app", "m:f", "--connect", "tcp://127.0.0.1:1", "--shard", "3/2", "--of", "4")
    assert r.returncode == 64 and "--shard 3/2: I must be in 0..<2" in r.stderr
    r = sdk("--app", "m:f", "--connect", "tcp://127.0.0.1:1", "--shard", "0/2")
    assert r.returncode == 64 and "--shard needs --of" in r.stderr
    r = sdk("--app", "m:f", "--connect", "tcp://127.0.0.1:1", "--curve-secret", "x")
    assert r.returncode == 64 and "go together" in r.stderr
    r = sdk("--connect", "tcp://127.0.0.1:1")
    assert r.returncode == 64 and "--app" in r.stderr


def test_an_app_that_cannot_be_imported_exits_1():
    r = sdk("--app", "no_such_module_here:make", "--connect", "tcp://127.0.0.1:1", "--count", "1")
    assert r.returncode == 1 and "cannot import no_such_module_here" in r.stderr


def write_pair(directory, name, mode=0o600):
    public, secret = (k.decode() for k in zmq.curve_keypair())
    sec = directory / f"{name}.secret"
    sec.write_text(f'# Aviary CURVE key pair "{name}"\npublic = "{public}"\nsecret = "{secret}"\n')
    os.chmod(sec, mode)
    (directory / f"{name}.public").write_text(f'public = "{public}"\n')
    return public, secret


def test_curve_key_files_load_and_are_refused_like_the_swift_clients(tmp_path):
    public, secret = write_pair(tmp_path, "client-0")
    server_public, _ = write_pair(tmp_path, "server")
    keys = curve_keys.load(str(tmp_path / "client-0.secret"), str(tmp_path / "server.public"))
    assert (keys.public_key, keys.secret_key, keys.server_public_key) == (public, secret, server_public)
    os.chmod(tmp_path / "client-0.secret", 0o644)
    with pytest.raises(curve_keys.KeyFileError, match="readable by group or others .*chmod 600"):
        curve_keys.read_secret(str(tmp_path / "client-0.secret"))
    os.chmod(tmp_path / "client-0.secret", 0o600)
    with pytest.raises(curve_keys.KeyFileError, match="holds a secret key"):
        curve_keys.read_public(str(tmp_path / "client-0.secret"))
    other_public, _ = write_pair(tmp_path, "other")
    (tmp_path / "bad.secret").write_text(f'public = "{other_public}"\nsecret = "{secret}"\n')
    os.chmod(tmp_path / "bad.secret", 0o600)
    with pytest.raises(curve_keys.KeyFileError, match="does not belong to its secret key"):
        curve_keys.read_secret(str(tmp_path / "bad.secret"))
    with pytest.raises(curve_keys.KeyFileError, match="no such file"):
        curve_keys.read_public(str(tmp_path / "missing.public"))


def test_keys_written_by_aviary_keygen_load(aviary, tmp_path):
    r = subprocess.run([aviary, "keygen", "--dir", str(tmp_path / "keys"), "--processes", "2", "--clients", "4"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    keys = curve_keys.load(str(tmp_path / "keys" / "client-1.secret"), str(tmp_path / "keys" / "server.public"))
    allowed = (tmp_path / "keys" / "allowed.txt").read_text()
    assert f"{keys.public_key} 1,3" in allowed


def v4_frame(kind, body):
    head = b"AVRY" + struct.pack("<HBB", 4, kind, 0) + body
    return head + struct.pack("<I", zlib.crc32(head))


def test_a_server_of_another_protocol_version_is_refused_naming_both(tmp_path):
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    (tmp_path / "app_v.py").write_text("def make(i, ctx):\n    raise AssertionError('never built')\n")
    proc = subprocess.Popen([sys.executable, "-m", "aviary_client", "--app", "app_v:make", "--connect",
                             f"tcp://127.0.0.1:{port}", "--clients", "0", "--server-timeout", "30"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert router.poll(20000), "the client sent no HELLO"
        identity, hello = router.recv_multipart()
        assert hello[4:6] == b"\x07\x00" and wire.decode(hello).claims[0].index == 0
        reason = b"protocol version 5 is not supported"
        router.send_multipart([identity, v4_frame(3, struct.pack("<q", len(reason)) + reason)])
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        router.close(0)
        ctx.term()
    assert proc.returncode == 1
    assert "protocol version 4 is not supported (this build speaks 7)" in err


def test_the_codec_refuses_a_v5_reject_it_can_read():
    assert isinstance(wire.decode(wire.encode(Reject("x"))), Reject)


def test_sigterm_says_bye_and_exits_1(tmp_path):
    from aviary_client.messages import Bye, Welcome
    from sdk_fakes import run_spec

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    (tmp_path / "app_s.py").write_text("def make(i, ctx):\n    raise AssertionError('never built')\n")
    proc = subprocess.Popen([sys.executable, "-m", "aviary_client", "--app", "app_s:make", "--connect",
                             f"tcp://127.0.0.1:{port}", "--clients", "2,5"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert router.poll(20000), "the client sent no HELLO"
        identity, frame = router.recv_multipart()
        hello = wire.decode(frame)
        accepted = [(c.index, c.token) for c in hello.claims]
        router.send_multipart([identity, wire.encode(Welcome(accepted, [], 2.0, 3, run_spec([("fc.bias", (2,))])))])
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        bye = None
        while bye is None and router.poll(10000):
            message = wire.decode(router.recv_multipart()[1])
            bye = message if isinstance(message, Bye) else None
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        router.close(0)
        ctx.term()
    assert bye is not None and bye.clients == [2, 5]
    assert proc.returncode == 1 and "interrupted by a signal" in err


def test_the_flags_aviary_runs_launcher_appends_are_understood():
    from aviary_client.cli import _parser
    from aviary_client.client_set import choose

    # What `aviary run` gives a `[processes] command` process after the command's own arguments.
    args = _parser(False).parse_args(["--app", "m:f", "--connect", "tcp://127.0.0.1:5555", "--shard", "1/3", "--of", "10",
                                      "--exclude", "4", "--name", "proc-1", "--state-dir", "/tmp/state",
                                      "--curve-secret", "k/client-1.secret", "--server-public", "k/server.public"])
    assert choose(args.clients, args.shard, args.of, args.count, args.exclude) == [1, 7]
    assert (args.name, args.state_dir, args.curve_secret, args.server_public) == \
        ("proc-1", "/tmp/state", "k/client-1.secret", "k/server.public")
    assert choose("0-2,9", None, None, 1, None) == [0, 1, 2, 9]
    assert choose(None, None, None, 3, None) == [None, None, None]
