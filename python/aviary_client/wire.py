"""The binary frame of every message (docs/PROTOCOL.md, protocol 5), byte for byte as Swift's
`WireCodec`:

    "AVRY" | version u16 | kind u8 | flags u8 | body ... | CRC-32 u32   (all little-endian)

Pure: no I/O. Decoding checks magic, version, CRC, kind, flags, then each body field in order,
and raises `CodecError` naming the field and byte offset at the first failure."""
import struct
import zlib

from .codec_errors import CodecError
from .limits import DEFAULT_LIMITS
from .messages import (PROTOCOL_VERSION, Bye, Claim, EvalResult, Evaluate, F16Payload, F32Payload, Failure,
                       Heartbeat, Hello, Int8Payload, Kind, Model, Refused, Reject, Reset, Shutdown, TopKPayload,
                       Train, Update, Welcome, SecAgg, SecAggReply)
from .wire_fields import WireReader, WireWriter

MAGIC = b"AVRY"
HEADER_BYTES = 8
TRAILER_BYTES = 4
_HEADER = struct.Struct("<4sHBB")


def encode(message, version=PROTOCOL_VERSION):
    """The frame for `message`, as bytes. `version` exists for tests of refusals only."""
    w = WireWriter()
    w.out += _HEADER.pack(MAGIC, version, int(message.kind), 0)
    _write_body(message, w)
    return w.frame()


def _write_payload(p, w):
    w.u8(p.tag)
    if isinstance(p, F32Payload):
        w.floats(p.values)
    elif isinstance(p, F16Payload):
        w.array(p.bits, "<u2")
    elif isinstance(p, Int8Payload):
        w.floats(p.scales)
        w.array(p.values, "i1")
    elif isinstance(p, TopKPayload):
        w.int(p.length)
        w.array(p.indices, "<u4")
        w.floats(p.values)
    else:
        raise TypeError(f"not a delta payload: {p!r}")


def _write_body(m, w):
    k = m.kind
    if k == Kind.HELLO:
        w.string(m.process_name)
        w.u8(m.role)
        w.int(len(m.claims))
        for c in m.claims:
            w.optional_int(c.index)
            w.u64(c.token)
    elif k == Kind.WELCOME:
        w.int(len(m.accepted))
        for index, token in m.accepted:
            w.int(index)
            w.u64(token)
        w.int(len(m.refused))
        for r in m.refused:
            w.string(r.reason)
            w.u8(1 if r.retry else 0)
            w.int(r.claims)
            w.int(len(r.indices))
            for first, last in r.indices:
                w.int(first)
                w.int(last)
        w.f64(m.heartbeat_interval)
        w.int(m.liveness)
        w.blob(m.run_spec)
    elif k in (Kind.REJECT, Kind.SHUTDOWN, Kind.RESET):
        w.string(m.reason)
    elif k in (Kind.TRAIN, Kind.EVALUATE):
        w.int(m.round)
        w.ints(m.clients)
        w.metrics(m.config)
    elif k == Kind.UPDATE:
        w.int(m.round)
        w.int(m.client_index)
        w.u64(m.token)
        w.int(m.samples)
        w.metrics(m.metrics)
        _write_payload(m.payload, w)
    elif k == Kind.FAILURE:
        w.int(m.round)
        w.int(m.client_index)
        w.u64(m.token)
        w.string(m.reason)
    elif k == Kind.HEARTBEAT:
        pass
    elif k == Kind.BYE:
        w.ints(m.clients)
    elif k == Kind.MODEL:
        w.int(m.round)
        w.floats(m.parameters)
    elif k in (Kind.SECAGG, Kind.SECAGG_REPLY):
        w.int(m.round)
        w.int(m.client_index)
        if k == Kind.SECAGG_REPLY:
            w.u64(m.token)
        w.u8(m.stage)
        w.blob(m.body)
    elif k == Kind.EVAL_RESULT:
        w.int(m.round)
        w.int(m.client_index)
        w.u64(m.token)
        w.int(m.samples)
        w.metrics(m.metrics)
        w.string(m.error)
    else:
        raise TypeError(f"cannot encode {m!r}")


def decode(frame, limits=DEFAULT_LIMITS):
    """One message from one frame (bytes-like). Raises CodecError; never anything else on
    hostile input."""
    data = memoryview(frame).cast("B")
    n = len(data)
    if n < 4:
        raise CodecError.truncated("header.magic", 0, 4, n)
    if bytes(data[:4]) != MAGIC:
        raise CodecError.bad_magic(bytes(data[:4]))
    if n < HEADER_BYTES:
        raise CodecError.truncated("header", 4, HEADER_BYTES - 4, n - 4)
    version = struct.unpack_from("<H", data, 4)[0]
    if version != PROTOCOL_VERSION:
        raise CodecError.unsupported_version(version, PROTOCOL_VERSION)
    if n < HEADER_BYTES + TRAILER_BYTES:
        raise CodecError.truncated("trailer.crc32", HEADER_BYTES, TRAILER_BYTES, n - HEADER_BYTES)
    body_end = n - TRAILER_BYTES
    in_frame = struct.unpack_from("<I", data, body_end)[0]
    computed = zlib.crc32(data[:body_end]) & 0xFFFFFFFF
    if in_frame != computed:
        raise CodecError.crc_mismatch(in_frame, computed)
    kind_byte, flags = data[6], data[7]
    try:
        kind = Kind(kind_byte)
    except ValueError:
        raise CodecError.unknown_kind(kind_byte, PROTOCOL_VERSION) from None
    if flags != 0:
        raise CodecError.unsupported_flags(flags, PROTOCOL_VERSION)
    r = WireReader(data, HEADER_BYTES, body_end, limits)
    message = _read_body(kind, r)
    if r.remaining != 0:
        raise CodecError.trailing_bytes(r.offset, r.remaining)
    return message


def _read_payload(field, r):
    at = r.offset
    tag = r.u8(field + ".encoding")
    if tag == 0:
        return F32Payload(r.floats(field + ".f32"))
    if tag == 1:
        return F16Payload(r.elements(field + ".f16", "<u2", 2))
    if tag == 2:
        scales = r.floats(field + ".int8.scales")
        return Int8Payload(scales, r.elements(field + ".int8.values", "i1", 1))
    if tag == 3:
        length = r.int(field + ".topk.length")
        indices = r.elements(field + ".topk.indices", "<u4", 4)
        return TopKPayload(length, indices, r.floats(field + ".topk.values"))
    raise CodecError.unknown_encoding(field + ".encoding", at, tag)


def _read_refusal(r):
    reason = r.string("welcome.refused.reason")
    retry_at = r.offset
    retry = r.u8("welcome.refused.retry")
    if retry > 1:
        raise CodecError.invalid_optional_tag("welcome.refused.retry", retry_at, retry)
    claims_at = r.offset
    claims = r.int("welcome.refused.claims")
    if claims < 0:
        raise CodecError.negative_count("welcome.refused.claims", claims_at, claims)
    n = r.list_count("welcome.refused.indices", 16)
    indices = []
    for _ in range(n):
        at = r.offset
        first = r.int("welcome.refused.indices.first")
        last = r.int("welcome.refused.indices.last")
        if first > last:
            raise CodecError.invalid_range("welcome.refused.indices", at, first, last)
        indices.append((first, last))
    return Refused(reason, retry == 1, claims, indices)


def _read_body(kind, r):
    if kind == Kind.HELLO:
        name = r.string("hello.processName")
        role_at = r.offset
        role = r.u8("hello.role")
        if role > 1:
            raise CodecError.unknown_role("hello.role", role_at, role)
        n = r.list_count("hello.claims", 9)
        claims = []
        for _ in range(n):
            index = r.optional_int("hello.claims.index")
            claims.append(Claim(index, r.u64("hello.claims.token")))
        return Hello(name, claims, role)
    if kind == Kind.WELCOME:
        na = r.list_count("welcome.accepted", 16)
        accepted = []
        for _ in range(na):
            index = r.int("welcome.accepted.index")
            accepted.append((index, r.u64("welcome.accepted.token")))
        nr = r.list_count("welcome.refused", 25)
        refused = [_read_refusal(r) for _ in range(nr)]
        interval = r.f64("welcome.heartbeatInterval")
        liveness = r.int("welcome.liveness")
        return Welcome(accepted, refused, interval, liveness, r.blob("welcome.runSpec"))
    if kind == Kind.REJECT:
        return Reject(r.string("reject.reason"))
    if kind == Kind.TRAIN:
        rnd = r.int("train.round")
        clients = r.ints("train.clients")
        return Train(rnd, clients, r.metrics("train.config"))
    if kind == Kind.UPDATE:
        rnd = r.int("update.round")
        index = r.int("update.clientIndex")
        token = r.u64("update.token")
        samples = r.int("update.samples")
        metrics = r.metrics("update.metrics")
        return Update(rnd, index, token, samples, metrics, _read_payload("update.delta", r))
    if kind == Kind.FAILURE:
        rnd = r.int("failure.round")
        index = r.int("failure.clientIndex")
        token = r.u64("failure.token")
        return Failure(rnd, index, token, r.string("failure.reason"))
    if kind == Kind.HEARTBEAT:
        return Heartbeat()
    if kind == Kind.SHUTDOWN:
        return Shutdown(r.string("shutdown.reason"))
    if kind == Kind.BYE:
        return Bye(r.ints("bye.clients"))
    if kind == Kind.MODEL:
        rnd = r.int("model.round")
        return Model(rnd, r.floats("model.parameters"))
    if kind == Kind.RESET:
        return Reset(r.string("reset.reason"))
    if kind == Kind.EVALUATE:
        rnd = r.int("evaluate.round")
        clients = r.ints("evaluate.clients")
        return Evaluate(rnd, clients, r.metrics("evaluate.config"))
    if kind in (Kind.SECAGG, Kind.SECAGG_REPLY):
        name = "secAgg" if kind == Kind.SECAGG else "secAggReply"
        rnd = r.int(f"{name}.round")
        index = r.int(f"{name}.clientIndex")
        token = r.u64(f"{name}.token") if kind == Kind.SECAGG_REPLY else None
        stage_at = r.offset
        stage = r.u8(f"{name}.stage")
        if not 1 <= stage <= 4:
            raise CodecError.unknown_stage(f"{name}.stage", stage_at, stage)
        body = r.blob(f"{name}.body")
        return SecAgg(rnd, index, stage, body) if token is None else SecAggReply(rnd, index, token, stage, body)
    # EVAL_RESULT
    rnd = r.int("evalResult.round")
    index = r.int("evalResult.clientIndex")
    token = r.u64("evalResult.token")
    samples = r.int("evalResult.samples")
    metrics = r.metrics("evalResult.metrics")
    return EvalResult(rnd, index, token, samples, metrics, r.string("evalResult.error"))
