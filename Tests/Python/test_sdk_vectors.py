"""The Python codec against the frames the Swift codec wrote (Tests/Vectors/, manifest.json):
each frame decodes to the manifest's fields, the message built from those fields encodes to the
same bytes, every delta encoding makes the same payload from the same input floats (top-k with
the same residual after), and the run spec vector parses into its tensor table."""
import json
import pathlib

import numpy as np
import pytest

from aviary_client import deltas, run_spec, topk, wire
from aviary_client.deltas import DeltaFormat, Encoding
from aviary_client.messages import (PROTOCOL_VERSION, Bye, Claim, EvalResult, Evaluate, F16Payload, F32Payload,
                                    Failure, Heartbeat, Hello, Int8Payload, Kind, Model, Refused, Reject, Reset,
                                    SecAgg, SecAggReply, Shutdown, TopKPayload, Train, Update, Welcome)

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "Vectors"
MANIFEST = VECTORS / "manifest.json"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason=f"{MANIFEST} is missing (the Swift side writes the vectors)")


def frames():
    return json.loads(MANIFEST.read_text())["frames"] if MANIFEST.exists() else []


def bits(values):
    return np.array(values, dtype=np.uint32).view(np.float32)


def payload_from(d):
    tag = d["tag"]
    if tag == 0:
        return F32Payload(bits(d["values_bits"]))
    if tag == 1:
        return F16Payload(np.array(d["bits"], np.uint16))
    if tag == 2:
        return Int8Payload(bits(d["scales_bits"]), np.array(d["values"], np.int8))
    return TopKPayload(d["length"], np.array(d["indices"], np.uint32), bits(d["values_bits"]))


def message_from(kind, f):
    """The message a manifest entry describes, built without looking at the frame."""
    k = Kind(kind)
    if k == Kind.HELLO:
        return Hello(f["processName"], [Claim(c["index"], c["token"]) for c in f["claims"]], f["role"])
    if k == Kind.WELCOME:
        return Welcome([(a["index"], a["token"]) for a in f["accepted"]],
                       [Refused(r["reason"], r["retry"], r["claims"], [tuple(x) for x in r["ranges"]]) for r in f["refused"]],
                       f["heartbeatInterval"], f["liveness"], f["runSpec"].encode())
    if k == Kind.REJECT:
        return Reject(f["reason"])
    if k == Kind.TRAIN:
        return Train(f["round"], f["clients"], f["config"])
    if k == Kind.UPDATE:
        return Update(f["round"], f["clientIndex"], f["token"], f["samples"], f["metrics"], payload_from(f["delta"]))
    if k == Kind.FAILURE:
        return Failure(f["round"], f["clientIndex"], f["token"], f["reason"])
    if k == Kind.HEARTBEAT:
        return Heartbeat()
    if k == Kind.SHUTDOWN:
        return Shutdown(f["reason"])
    if k == Kind.BYE:
        return Bye(f["clients"])
    if k == Kind.MODEL:
        return Model(f["round"], bits(f["parameters_bits"]))
    if k == Kind.RESET:
        return Reset(f["reason"])
    if k == Kind.EVALUATE:
        return Evaluate(f["round"], f["clients"], f["config"])
    if k == Kind.SECAGG:
        return SecAgg(f["round"], f["clientIndex"], f["stage"], bytes(f["body"]))
    if k == Kind.SECAGG_REPLY:
        return SecAggReply(f["round"], f["clientIndex"], f["token"], f["stage"], bytes(f["body"]))
    return EvalResult(f["round"], f["clientIndex"], f["token"], f["samples"], f["metrics"], f["error"])


def test_the_vectors_speak_this_protocol_version():
    assert json.loads(MANIFEST.read_text())["protocol_version"] == PROTOCOL_VERSION
    assert {f["kind_byte"] for f in frames()} == {k.value for k in Kind}, "every kind has a vector"


@pytest.mark.parametrize("entry", frames(), ids=lambda e: e["file"])
def test_python_encodes_the_swift_bytes_and_decodes_them_back(entry):
    data = (VECTORS / entry["file"]).read_bytes()
    assert len(data) == entry["size"] and data[6] == entry["kind_byte"]
    built = message_from(entry["kind_byte"], entry["fields"])
    assert wire.encode(built) == data, "Python → Swift direction"
    decoded = wire.decode(data)
    assert decoded.kind == entry["kind_byte"]
    assert wire.encode(decoded) == data, "Swift → Python → Swift"
    f = entry["fields"]
    if isinstance(decoded, Update):
        assert (decoded.round, decoded.client_index, decoded.token, decoded.samples) == \
            (f["round"], f["clientIndex"], f["token"], f["samples"])
        assert decoded.metrics == f["metrics"]
    elif isinstance(decoded, Model):
        assert decoded.parameters.view(np.uint32).tolist() == f["parameters_bits"]
    elif isinstance(decoded, Hello):
        assert (decoded.process_name, decoded.role) == (f["processName"], f["role"])
        assert [(c.index, c.token) for c in decoded.claims] == [(c["index"], c["token"]) for c in f["claims"]]
    elif isinstance(decoded, EvalResult):
        assert (decoded.client_index, decoded.token, decoded.metrics, decoded.error) == \
            (f["clientIndex"], f["token"], f["metrics"], f["error"])


def delta_entries():
    return [e for e in frames() if "delta" in e]


@pytest.mark.parametrize("entry", delta_entries(), ids=lambda e: e["file"])
def test_python_makes_the_same_payload_from_the_same_input(entry):
    d = entry["delta"]
    encoding = Encoding(d["encoding"], d.get("fraction"))
    fmt = DeltaFormat(encoding, d["tensor_sizes"])
    data = wire.decode((VECTORS / entry["file"]).read_bytes())
    x = bits(d["input_bits"])
    if encoding.name == "topk":
        payload, residual = topk.step(x, np.array(d["residual_before"], np.float32), d["k"])
        assert fmt.topk_count == d["k"]
        assert residual.tolist() == d["residual_after"]
        sent = deltas.decode(payload, fmt)
        before = np.array(d["residual_before"], np.float32)
        assert (sent + residual == x + before).all(), "the error-feedback identity"
    else:
        payload, clamped = deltas.encode(x, fmt)
        assert clamped == d.get("clamped", 0)
    frame_update = Update(3, 3, 1, 600, {}, payload)
    assert wire.encode(frame_update) == wire.encode(Update(3, 3, 1, 600, {}, data.payload)), "the same payload bytes"
    assert deltas.decode(data.payload, fmt).view(np.uint32).tolist() == d["decoded_bits"]


def test_the_run_spec_vector_parses_into_the_mlp_tensor_table():
    path = VECTORS / "runspec-mlp.json"
    spec = run_spec.parse(path.read_bytes())
    assert [t.name for t in spec.tensors] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert [t.shape for t in spec.tensors] == [(200, 784), (200,), (200, 200), (200,), (10, 200), (10,)]
    assert spec.parameter_count == 199210 and spec.run_id == "0123456789abcdef"
    assert spec.delta_format.parameter_count == 199210
