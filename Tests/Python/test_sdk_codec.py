"""The Python wire codec (python/aviary_client/wire.py) against docs/PROTOCOL.md: frame layout,
round trips of every kind, and each decoding error naming its field and offset."""
import struct
import zlib

import numpy as np
import pytest

from aviary_client import wire
from aviary_client.codec_errors import CodecError
from aviary_client.limits import CodecLimits
from aviary_client.messages import (Bye, Claim, EvalResult, Evaluate, F16Payload, F32Payload, Failure, Heartbeat,
                                    Hello, Int8Payload, Model, Refused, Reject, Reset, Shutdown, TopKPayload, Train,
                                    Update, Welcome)


def frame(kind, body, version=7, flags=0):
    head = b"AVRY" + struct.pack("<HBB", version, kind, flags) + body
    return head + struct.pack("<I", zlib.crc32(head))


def test_heartbeat_is_twelve_bytes_with_zlib_crc():
    f = wire.encode(Heartbeat())
    assert f[:8] == bytes([0x41, 0x56, 0x52, 0x59, 0x07, 0x00, 0x07, 0x00])
    assert len(f) == 12 and struct.unpack("<I", f[8:])[0] == zlib.crc32(f[:8])
    # docs/PROTOCOL.md's examples, byte for byte.
    assert f.hex(" ") == "41 56 52 59 07 00 07 00 af 6b c3 66"
    assert wire.encode(Bye([3])).hex(" ") == \
        "41 56 52 59 07 00 09 00 01 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 4b e5 2e 9c"
    # Version 4's examples (only the version field and so the CRC differ).
    assert wire.encode(Heartbeat(), version=4).hex(" ") == "41 56 52 59 04 00 07 00 41 c4 76 74"
    assert wire.encode(Bye([3]), version=4).hex(" ") == \
        "41 56 52 59 04 00 09 00 01 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 81 a8 87 33"


def test_hello_carries_the_role_byte_after_the_name():
    f = wire.encode(Hello("p", [Claim(3, 7), Claim(None, 0)], role=1))
    body = f[8:-4]
    assert body == (struct.pack("<q", 1) + b"p" + b"\x01" + struct.pack("<q", 2)
                    + b"\x01" + struct.pack("<q", 3) + struct.pack("<Q", 7) + b"\x00" + struct.pack("<Q", 0))


def reencode(message):
    f = wire.encode(message)
    again = wire.encode(wire.decode(f))
    assert again == f
    return wire.decode(f)


def test_every_kind_round_trips_byte_for_byte():
    floats = np.array([1.5, -0.0, np.float32(3e-39), 65504], dtype=np.float32)
    messages = [
        Hello("host-1", [Claim(0, 2**64 - 1), Claim(None)], role=0),
        Hello("evaluator", [], role=1),
        Welcome([(0, 11), (-1, 12)], [Refused("held", True, 3, [(1, 2), (5, 5)])], 2.0, 3, b'{"a":1}'),
        Reject("no"), Train(4, [0, 2], {"lr": 0.05, "epochs": 1.0}),
        Update(1, 2, 3, 40, {"train_loss": 0.5}, F32Payload(floats)),
        Update(1, 2, 3, 40, {}, F16Payload(np.array([1, 0xFBFF], np.uint16))),
        Update(1, 2, 3, 40, {}, Int8Payload(np.array([0.5], np.float32), np.array([-127, 0, 127], np.int8))),
        Update(1, 2, 3, 40, {}, TopKPayload(9, np.array([1, 8], np.uint32), np.array([2, -3], np.float32))),
        Failure(1, 2, 3, "boom ✗"), Heartbeat(), Shutdown("done"), Bye([1, 5]), Model(7, floats), Reset("who?"),
        Evaluate(3, [], {}), Evaluate(3, [4, 6], {"x": 1.0}),
        EvalResult(3, -1, 99, 1000, {"loss": 0.3, "accuracy": 0.9}, ""), EvalResult(3, 4, 99, 0, {}, "failed"),
    ]
    for m in messages:
        decoded = reencode(m)
        assert type(decoded) is type(m)


def test_metric_keys_are_sorted_so_equal_maps_give_equal_bytes():
    a = wire.encode(Train(1, [], {"b": 1.0, "a": 2.0}))
    b = wire.encode(Train(1, [], {"a": 2.0, "b": 1.0}))
    assert a == b and a.index(b"a") < a.index(b"b", 30)


def test_nan_payloads_travel_bit_for_bit():
    bits = np.array([0x7FC00001, 0xFFA00000], dtype=np.uint32)
    m = reencode(Model(1, bits.view(np.float32)))
    assert (m.parameters.view(np.uint32) == bits).all()


def error_of(data, limits=CodecLimits()):
    with pytest.raises(CodecError) as info:
        wire.decode(data, limits)
    return info.value


def test_header_errors_in_the_documented_order():
    assert error_of(b"AV").category == "truncated"
    e = error_of(b"XVRY" + bytes(8))
    assert e.category == "badMagic" and '"AVRY"' in str(e)
    e = error_of(frame(7, b"", version=4))
    assert e.category == "unsupportedVersion"
    assert str(e).startswith("protocol version 4 is not supported (this build speaks 7)")
    good = bytearray(wire.encode(Shutdown("x")))
    good[-9] ^= 1
    assert error_of(bytes(good)).category == "crcMismatch"
    assert error_of(frame(99, b"")).category == "unknownKind"
    assert error_of(frame(7, b"", flags=1)).category == "unsupportedFlags"
    e = error_of(frame(7, b"\x00"))
    assert e.category == "trailingBytes" and e.offset == 8


def test_body_errors_name_field_and_offset():
    e = error_of(frame(3, struct.pack("<q", -1)))
    assert (e.category, e.field, e.offset) == ("negativeCount", "reject.reason", 8)
    assert "reject.reason at byte 8 has negative length -1" in str(e)
    e = error_of(frame(3, struct.pack("<q", 10) + b"abc"))
    assert (e.category, e.field, e.offset) == ("truncated", "reject.reason", 16)
    e = error_of(frame(3, struct.pack("<q", 2) + b"\xff\xfe"))
    assert (e.category, e.offset) == ("invalidUTF8", 16)
    e = error_of(frame(3, struct.pack("<q", 70000) + bytes(70000)))
    assert e.category == "stringTooLong" and "65536-byte limit" in str(e)
    e = error_of(frame(1, struct.pack("<q", 0) + b"\x02" + struct.pack("<q", 0)))
    assert (e.category, e.field, e.offset) == ("unknownRole", "hello.role", 16)
    assert "expected 0 (trainer) or 1 (evaluator)" in str(e)
    e = error_of(frame(1, struct.pack("<q", 0) + b"\x00" + struct.pack("<q", 1) + b"\x05" + bytes(16)))
    assert (e.category, e.field) == ("invalidOptionalTag", "hello.claims.index")
    dup = struct.pack("<q", 2) + (struct.pack("<q", 1) + b"k" + struct.pack("<d", 1.0)) * 2
    e = error_of(frame(4, struct.pack("<q", 1) + struct.pack("<q", 0) + dup))
    assert (e.category, e.key if hasattr(e, "key") else e.context["key"]) == ("duplicateKey", "k")
    e = error_of(frame(4, struct.pack("<q", 1) + struct.pack("<q", 0) + struct.pack("<q", 300) + bytes(300 * 16)))
    assert e.category == "tooManyMetrics"
    e = error_of(frame(10, struct.pack("<q", 1) + struct.pack("<q", 5) + bytes(8)))
    assert (e.category, e.field) == ("truncated", "model.parameters")
    e = error_of(frame(10, struct.pack("<q", 1) + struct.pack("<q", 5) + bytes(20)), CodecLimits(max_vector_count=4))
    assert e.category == "vectorTooLong"
    e = error_of(frame(9, struct.pack("<q", 3_000_000)))
    assert e.category == "tooManyEntries"
    update = struct.pack("<qqQq", 1, 2, 3, 4) + struct.pack("<q", 0) + b"\x07"
    e = error_of(frame(5, update))
    assert (e.category, e.field, e.offset) == ("unknownEncoding", "update.delta.encoding", 48)
    refused = (struct.pack("<q", 0) + struct.pack("<q", 1) + struct.pack("<q", 1) + b"r" + b"\x00"
               + struct.pack("<q", 1) + struct.pack("<q", 1) + struct.pack("<qq", 5, 4))
    e = error_of(frame(2, refused + struct.pack("<d", 2.0) + struct.pack("<q", 3) + struct.pack("<q", 0)))
    assert e.category == "invalidRange" and "5-4" in str(e)


def test_refused_entries_describe_themselves_as_swift_does():
    assert str(Refused("held", True, 1, [(7, 7)])) == "client 7: held"
    assert str(Refused("bad", False, 4, [(3, 5), (9, 9)])) == "clients 3-5,9 (4 claims): bad"
    assert str(Refused("bad", False, 61000, [(10, 10), (12, 12)])) == "clients 10,12,… (61000 claims): bad"
    assert str(Refused("full", False, 2, [])) == "2 claims, server-assigned: full"


def test_secagg_envelopes_round_trip_and_refuse_unknown_stages():
    from aviary_client.messages import SecAgg, SecAggReply
    for m in (SecAgg(3, 2, 4, b"\x01\x02"), SecAggReply(3, 2, 0xFFFF_FFFF_FFFF_FFFF, 1, b"")):
        assert wire.decode(wire.encode(m)) == m
    e = error_of(frame(14, struct.pack("<qq", 1, 0) + b"\x05" + struct.pack("<q", 0)))
    assert e.category == "unknownStage" and "secAgg.stage at byte 24 is stage 5" in str(e)
