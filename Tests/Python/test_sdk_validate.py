"""Issue 20's bad input at `aviary validate`: an external model's init file that is not
safetensors, or that holds no float tensor, is refused naming the file (exit non-zero)."""
import subprocess
import time

import numpy as np
import pytest

from sdk_harness import topology


@pytest.mark.parametrize("content, says", [
    ("text", "safetensors"),
    ("integers", "float tensor"),
], ids=["not-safetensors", "no-float-tensor"])
def test_a_bad_init_file_is_refused_at_validate(aviary, tmp_path, content, says):
    init = tmp_path / "init.safetensors"
    if content == "text":
        init.write_text("this is not a safetensors file\n")
    else:
        from safetensors.numpy import save_file
        save_file({"bn.num_batches_tracked": np.zeros((), np.int64)}, str(init))
    topo = topology(tmp_path, "bad", clients=2, rounds=1, model='kind = "external"\nparameters = "init.safetensors"')
    out = subprocess.run([aviary, "validate", str(topo)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout
    text = out.stdout + out.stderr
    assert str(init) in text and says in text, text


def test_a_good_init_file_passes_validate_and_names_the_evaluation(aviary, tmp_path):
    from safetensors.numpy import save_file
    save_file({"fc.weight": np.zeros((10, 60), np.float32), "fc.bias": np.zeros(10, np.float32)}, str(tmp_path / "init.safetensors"))
    topo = topology(tmp_path, "good", clients=2, rounds=1, model='kind = "external"\nparameters = "init.safetensors"',
                    extra='[evaluation]\nmode = "federated"\n')
    out = subprocess.run([aviary, "validate", str(topo)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 float tensors" in out.stdout and "evaluation: federated" in out.stdout, out.stdout


def test_the_real_server_refuses_another_protocol_version_and_hostile_eval_results(aviary, tmp_path):
    """A frame of protocol 4 is answered with a REJECT naming both versions; EVAL_RESULTs that
    answer nothing (another round, a wrong token, a client not hosted, a NaN metric, the
    evaluator's index from a trainer) are ignored (ServerEvaluationTests names each reason), and the
    server keeps serving."""
    import zmq
    from aviary_client import wire
    from aviary_client.messages import Claim, EvalResult, Hello, Reject, Welcome
    from sdk_harness import Server, records

    topo = topology(tmp_path, "hostile", clients=2, rounds=1, extra='[evaluation]\nmode = "federated"\n')
    server = Server.start(topo, tmp_path / "hostile", tmp_path / "server.log")
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(server.endpoint)
    try:
        hello = bytearray(wire.encode(Hello("old", [Claim(0)])))
        assert hello[4:6] == b"\x07\x00"
        hello[4:6] = b"\x04\x00"
        sock.send(bytes(hello))
        assert sock.poll(20000), "no answer to a protocol-4 HELLO"
        reject = wire.decode(sock.recv())
        assert isinstance(reject, Reject) and "protocol version 4 is not supported (this build speaks 7)" in reject.reason

        sock.send(wire.encode(Hello("rogue", [Claim(0)])))
        assert sock.poll(20000)
        welcome = wire.decode(sock.recv())
        assert isinstance(welcome, Welcome) and welcome.accepted[0][0] == 0
        token = welcome.accepted[0][1]
        for bad in (EvalResult(99, 0, token, 10, {"loss": 1.0, "accuracy": 0.5}),
                    EvalResult(1, 0, token ^ 1, 10, {"loss": 1.0, "accuracy": 0.5}),
                    EvalResult(1, 1, token, 10, {"loss": 1.0, "accuracy": 0.5}),
                    EvalResult(1, 0, token, 10, {"loss": float("nan"), "accuracy": 0.5}),
                    EvalResult(1, -1, token, 10, {"loss": 1.0, "accuracy": 0.5}),
                    EvalResult(1, 0, token, -5, {}, "boom")):
            sock.send(wire.encode(bad))
        # Still serving: another process registers the other client.
        other = ctx.socket(zmq.DEALER)
        other.connect(server.endpoint)
        other.send(wire.encode(Hello("second", [Claim(1)])))
        assert other.poll(20000), server.output()
        assert isinstance(wire.decode(other.recv()), Welcome)
        other.close(0)
        assert server.proc.poll() is None, server.output()
        # The server logs the registration after it sends the WELCOME: wait for the line.
        deadline = time.monotonic() + 20
        while not any(r.get("event") == "clients_registered" and "second" in r.get("message", "")
                      for r in records(tmp_path / "hostile")):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
    finally:
        sock.close(0)
        ctx.term()
        server.stop()
