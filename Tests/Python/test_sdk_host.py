"""The Python SDK's process runtime with an in-memory server (no sockets): fit and evaluate
reach the server as UPDATE / FAILURE / EVAL_RESULT, a failing fit leaves the other clients
served, mismatched tensors are refused naming the first mismatch, encodings apply."""
import threading

import numpy as np
import pytest

from aviary_client import deltas
from aviary_client.host import Host, HostError, HostOptions
from aviary_client.messages import (Bye, EvalResult, Evaluate, Failure, Hello, Model, Reject, Shutdown, Train,
                                    Update)
from sdk_fakes import AddOne, FakeConnection, run_spec, welcome

TABLE = [("fc.weight", (2, 3)), ("fc.bias", (2,))]


def start(make_client, indices=(0, 1), spec=None, role=0, state_dir=None):
    conn = FakeConnection()
    host = Host(HostOptions("inproc://x", list(indices), "test", role=role, connect=conn, state_dir=state_dir),
                make_client, log=lambda level, text: None)
    outcome = {}

    def body():
        try:
            host.run()
            outcome["ok"] = True
        except HostError as e:
            outcome["error"] = str(e)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    hello = conn.expect(Hello)
    accepted = [(-1, 99)] if role == 1 else [(c.index, c.token) for c in hello.claims]
    conn.inbox.put(welcome(accepted, spec or run_spec(TABLE)))
    return conn, t, outcome, hello


def finish(conn, t, outcome):
    conn.inbox.put(Shutdown("run complete"))
    t.join(10)
    assert outcome == {"ok": True}


def model(round_, value=0.0):
    return Model(round_, np.full(8, value, np.float32))


def test_fit_becomes_an_update_with_the_delta_and_the_token():
    conn, t, outcome, hello = start(lambda i, ctx: AddOne(i))
    conn.inbox.put(model(1, 0.25))
    conn.inbox.put(Train(1, [1], {"lr": 0.1}))
    u = conn.expect(Update)
    assert (u.round, u.client_index, u.samples) == (1, 1, 11)
    assert u.token == hello.claims[1].token != 0
    assert u.metrics == {"train_loss": 0.5}
    assert (u.payload.values == np.ones(8, np.float32)).all()
    finish(conn, t, outcome)
    assert conn.expect(Bye).clients == [0, 1]


class Fails(AddOne):
    def fit(self, parameters, config):
        if self.index == 0:
            raise RuntimeError("out of data")
        return super().fit(parameters, config)


def test_an_exception_in_fit_sends_failure_and_the_other_clients_keep_training():
    conn, t, outcome, _ = start(lambda i, ctx: Fails(i))
    conn.inbox.put(model(1))
    conn.inbox.put(Train(1, [0, 1], {}))
    f = conn.expect(Failure)
    assert f.client_index == 0 and "RuntimeError: out of data" in f.reason
    assert conn.expect(Update).client_index == 1
    conn.inbox.put(model(2))
    conn.inbox.put(Train(2, [1], {}))
    assert conn.expect(Update).round == 2
    finish(conn, t, outcome)


class WrongShape(AddOne):
    def fit(self, parameters, config):
        p = dict(parameters)
        p["fc.bias"] = np.zeros(3, np.float32)
        return p, 1, {}


class WrongName(AddOne):
    def fit(self, parameters, config):
        return {"weight": parameters["fc.weight"], "fc.bias": parameters["fc.bias"]}, 1, {}


class WrongDtype(AddOne):
    def fit(self, parameters, config):
        return {k: v.astype(np.float64) for k, v in parameters.items()}, 1, {}


@pytest.mark.parametrize("cls,text", [
    (WrongShape, "tensor 'fc.bias' has shape [3], the model's is [2]"),
    (WrongName, "tensor 0 of the model is 'fc.weight' but the client returned 'weight' there"),
    (WrongDtype, "tensor 'fc.weight' has dtype float64, the model's is F32"),
])
def test_mismatched_tensors_are_refused_naming_the_first_mismatch(cls, text):
    conn, t, outcome, _ = start(lambda i, ctx: cls(i), indices=[0])
    conn.inbox.put(model(1))
    conn.inbox.put(Train(1, [0], {}))
    assert text in conn.expect(Failure).reason
    finish(conn, t, outcome)


def test_updates_use_the_runs_encoding_with_residuals_on_disk(tmp_path):
    spec = run_spec(TABLE, compression={"topk": {"fraction": 0.25}})
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), indices=[0], spec=spec, state_dir=str(tmp_path))
    conn.inbox.put(model(1))
    conn.inbox.put(Train(1, [0], {}))
    u = conn.expect(Update)
    assert u.payload.name == "topk" and u.payload.indices.tolist() == [0, 1]
    assert (tmp_path / "run-1" / "client-000000" / "r0001-g0.safetensors").exists()
    finish(conn, t, outcome)


def test_evaluate_becomes_eval_result_and_errors_are_reported():
    class Half(AddOne):
        def evaluate(self, parameters, config):
            if self.index == 1:
                raise ValueError("no held-out data")
            return super().evaluate(parameters, config)

    conn, t, outcome, _ = start(lambda i, ctx: Half(i))
    conn.inbox.put(model(4, 2.0))
    conn.inbox.put(Evaluate(4, [0, 1], {}))
    results = sorted([conn.expect(EvalResult), conn.expect(EvalResult)], key=lambda r: r.client_index)
    assert results[0].metrics == {"loss": 2.0, "accuracy": 0.25} and results[0].samples == 5
    assert results[0].error == "" and results[0].token != 0
    assert results[1].samples == 0 and results[1].metrics == {} and "no held-out data" in results[1].error
    finish(conn, t, outcome)


def test_the_evaluator_answers_with_index_minus_one_and_its_token():
    made = []

    def make(i, ctx):
        made.append((i, ctx.role))
        return AddOne(0)

    conn, t, outcome, hello = start(make, indices=[], role=1)
    assert hello.role == 1 and hello.claims == []
    conn.inbox.put(model(2, 1.0))
    conn.inbox.put(Evaluate(2, [], {}))
    r = conn.expect(EvalResult)
    assert (r.client_index, r.token, r.metrics["loss"]) == (-1, 99, 1.0)
    assert made == [(-1, "evaluator")]
    finish(conn, t, outcome)


def test_reject_ends_the_process_with_the_servers_reason():
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i))
    conn.inbox.put(Reject("protocol version 4 is not supported (this build speaks 5)"))
    t.join(10)
    assert "the server refused this process: protocol version 4" in outcome["error"]


def test_a_malformed_frame_from_the_server_is_dropped_and_the_process_goes_on():
    from aviary_client import wire
    from aviary_client.codec_errors import CodecError

    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), indices=[0])
    try:
        wire.decode(b"AVRY\x07\x00\x07\x00garbage!")
    except CodecError as e:
        conn.inbox.put(e)  # what the connection hands the host for a frame that does not decode
    conn.inbox.put(model(1))
    conn.inbox.put(Train(1, [0], {}))
    assert conn.expect(Update).client_index == 0
    finish(conn, t, outcome)


@pytest.mark.parametrize("privacy, named", [
    ({"mode": "shuffled"}, 'mode "shuffled"'),
    ({"mode": "central", "clipOn": "enclave"}, 'clip_on "enclave"'),
    ({"mode": "central", "clipping": "quantile"}, 'clipping "quantile"'),
    ({"mode": "local", "clipOn": "client", "clipNorm": -1}, "clipNorm = -1"),
])
def test_privacy_the_sdk_cannot_honour_is_refused_at_start(privacy, named):
    """A `[privacy]` the SDK does not know ends the process at WELCOME, naming the key, before any
    update leaves unclipped or un-noised."""
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), spec=run_spec(TABLE, privacy=privacy))
    t.join(10)
    assert not t.is_alive()
    assert "the server's run spec cannot be used: privacy: " in outcome["error"]
    assert named in outcome["error"]


def test_central_privacy_with_server_side_clipping_needs_nothing_from_the_sdk():
    spec = run_spec(TABLE, privacy={"mode": "central", "clipOn": "server", "clipNorm": 1, "noiseMultiplier": 1})
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), spec=spec)
    conn.inbox.put(model(1, 0.25))
    conn.inbox.put(Train(1, [0], {"lr": 0.1}))
    assert (conn.expect(Update).payload.values == np.ones(8, np.float32)).all()
    finish(conn, t, outcome)


def test_a_secure_aggregation_run_is_refused_at_welcome_naming_secagg():
    """Protocol 6's SecAgg stages are not in this SDK: a run spec with `secagg` ends the process at
    WELCOME, naming [secagg], before any update could leave unmasked."""
    spec = run_spec(TABLE, secagg={"enabled": True, "numShares": 4, "reconstructionThreshold": 3})
    conn, t, outcome, _ = start(lambda i, ctx: AddOne(i), spec=spec)
    t.join(10)
    assert not t.is_alive()
    assert "the server's run spec cannot be used: secagg: " in outcome["error"]
    assert "[secagg]" in outcome["error"] and "does not implement" in outcome["error"]
    assert not any(isinstance(m, Update) for m in list(conn.sent.queue))
