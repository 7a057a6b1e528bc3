import AviaryMath

/// The binary wire format of every `Message` (docs/PROTOCOL.md is the byte-by-byte contract):
///
///     "AVRY" | version u16 | kind u8 | flags u8 | body … | CRC-32 u32   (all little-endian)
///
/// Pure: no I/O. Float vectors are copied in bulk, so a 1.66M-float UPDATE costs one memcpy
/// plus one CRC pass each way.
public enum WireCodec {
    /// "AVRY": the first four bytes of every frame.
    public static let magic: [UInt8] = [0x41, 0x56, 0x52, 0x59]
    /// magic (4) + version (2) + kind (1) + flags (1).
    public static let headerBytes = 8
    /// The CRC-32 trailer.
    public static let trailerBytes = 4

    // MARK: Encoding

    /// Exact number of bytes `encode(_:into:)` writes for `m`.
    public static func encodedSize(_ m: Message) -> Int {
        headerBytes + bodySize(m) + trailerBytes
    }

    /// Encodes `m` into a fresh byte array.
    public static func encode(_ m: Message) -> [UInt8] {
        let size = encodedSize(m)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            encode(m, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = size
        }
    }

    /// Encodes `m` into `buffer`, whose count must equal `encodedSize(m)` (lets the transport
    /// write straight into a ZeroMQ message without an intermediate array).
    public static func encode(_ m: Message, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count == encodedSize(m), "encode(into:) needs exactly encodedSize(m) bytes")
        var w = WireWriter(buffer)
        for b in magic { w.u8(b) }
        w.u16(protocolVersion)
        w.u8(m.kind.rawValue)
        w.u8(0)  // flags: reserved (must be 0) in versions 1 to 6
        writeBody(m, &w)
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<w.offset]))
        w.u32(crc)
    }

    private static func bodySize(_ m: Message) -> Int {
        switch m {
        case .hello(let h):
            // Each claim: opt-int index + u64 token.
            WireSize.string(h.processName) + 1 + 8 + h.claims.reduce(0) { $0 + WireSize.optionalInt($1.index) + 8 }
        case .welcome(let w):
            8 + 16 * w.accepted.count
                + w.refused.reduce(8) { $0 + WireSize.string($1.reason.description) + 1 + WireSize.int + 8 + 16 * $1.indices.count }
                + WireSize.f64 + WireSize.int + WireSize.blob(w.runSpec)
        case .reject(let r): WireSize.string(r.reason)
        case .train(let t): WireSize.int + WireSize.ints(t.clients) + WireSize.metrics(t.config)
        case .update(let u): 4 * WireSize.int + WireSize.metrics(u.metrics) + WireSize.payload(u.payload)
        case .failure(let f): 3 * WireSize.int + WireSize.string(f.reason)
        case .heartbeat: 0
        case .shutdown(let s): WireSize.string(s.reason)
        case .bye(let b): WireSize.ints(b.clients)
        case .model(let m): WireSize.int + WireSize.floats(m.parameters)
        case .reset(let r): WireSize.string(r.reason)
        case .evaluate(let e): WireSize.int + WireSize.ints(e.clients) + WireSize.metrics(e.config)
        case .evalResult(let e): 4 * WireSize.int + WireSize.metrics(e.metrics) + WireSize.string(e.error)
        case .secAgg(let s): 2 * WireSize.int + 1 + WireSize.blob(s.body)
        case .secAggReply(let s): 3 * WireSize.int + 1 + WireSize.blob(s.body)
        }
    }

    private static func writeBody(_ m: Message, _ w: inout WireWriter) {
        switch m {
        case .hello(let h):
            w.string(h.processName)
            w.u8(h.role.rawValue)
            w.int(h.claims.count)
            for c in h.claims { w.optionalInt(c.index); w.u64(c.token) }
        case .welcome(let x):
            w.int(x.accepted.count)
            for a in x.accepted { w.int(a.index); w.u64(a.token) }
            w.int(x.refused.count)
            for r in x.refused {
                w.string(r.reason.description); w.u8(r.retry ? 1 : 0); w.int(r.claims)
                w.int(r.indices.count)
                for range in r.indices { w.int(range.lowerBound); w.int(range.upperBound) }
            }
            w.f64(x.heartbeatInterval); w.int(x.liveness); w.blob(x.runSpec)
        case .reject(let r):
            w.string(r.reason)
        case .train(let t):
            w.int(t.round); w.ints(t.clients); w.metrics(t.config)
        case .update(let u):
            w.int(u.round); w.int(u.clientIndex); w.u64(u.token); w.int(u.samples); w.metrics(u.metrics); w.payload(u.payload)
        case .failure(let f):
            w.int(f.round); w.int(f.clientIndex); w.u64(f.token); w.string(f.reason)
        case .heartbeat:
            break
        case .shutdown(let s):
            w.string(s.reason)
        case .bye(let b):
            w.ints(b.clients)
        case .model(let m):
            w.int(m.round); w.floats(m.parameters)
        case .reset(let r):
            w.string(r.reason)
        case .evaluate(let e):
            w.int(e.round); w.ints(e.clients); w.metrics(e.config)
        case .evalResult(let e):
            w.int(e.round); w.int(e.clientIndex); w.u64(e.token); w.int(e.samples); w.metrics(e.metrics); w.string(e.error)
        case .secAgg(let s):
            w.int(s.round); w.int(s.clientIndex); w.u8(s.stage); w.blob(s.body)
        case .secAggReply(let s):
            w.int(s.round); w.int(s.clientIndex); w.u64(s.token); w.u8(s.stage); w.blob(s.body)
        }
    }

    // MARK: Decoding

    /// Decodes one frame. Never traps and never allocates more than the frame's own size
    /// (bounded further by `limits`) on hostile input.
    public static func decode(_ bytes: UnsafeRawBufferPointer,
                              limits: CodecLimits = .default) throws(CodecError) -> Message {
        let n = bytes.count
        guard n >= 4, let base = bytes.baseAddress else {
            throw .truncated(field: "header.magic", offset: 0, needed: 4, available: n)
        }
        guard bytes.prefix(4).elementsEqual(magic) else { throw .badMagic(found: Array(bytes.prefix(4))) }
        guard n >= headerBytes else {
            throw .truncated(field: "header", offset: 4, needed: headerBytes - 4, available: n - 4)
        }
        let version = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard version == protocolVersion else {
            throw .unsupportedVersion(found: version, supported: protocolVersion)
        }
        guard n >= headerBytes + trailerBytes else {
            throw .truncated(field: "trailer.crc32", offset: headerBytes, needed: trailerBytes, available: n - headerBytes)
        }
        // CRC before kind and body: a corrupted frame reports corruption, not a confusing field error.
        let bodyEnd = n - trailerBytes
        let inFrame = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: bodyEnd, as: UInt32.self))
        let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<bodyEnd]))
        guard inFrame == computed else { throw .crcMismatch(inFrame: inFrame, computed: computed) }

        let kindByte = bytes[6]
        guard let kind = Message.Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let flags = bytes[7]
        guard flags == 0 else { throw .unsupportedFlags(flags) }

        var r = WireReader(base: base, offset: headerBytes, end: bodyEnd, limits: limits)
        let message = try readBody(kind, &r)
        guard r.remaining == 0 else { throw .trailingBytes(offset: r.offset, count: r.remaining) }
        return message
    }

    /// Convenience over `decode(_:limits:)` for byte arrays.
    public static func decode(_ bytes: [UInt8], limits: CodecLimits = .default) throws(CodecError) -> Message {
        let result: Result<Message, CodecError> = bytes.withUnsafeBytes { raw in
            do throws(CodecError) { return .success(try decode(raw, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func readBody(_ kind: Message.Kind, _ r: inout WireReader) throws(CodecError) -> Message {
        switch kind {
        case .hello:
            let name = try r.string("hello.processName")
            let roleAt = r.offset
            let roleByte = try r.u8("hello.role")
            guard let role = ProcessRole(rawValue: roleByte) else {
                throw .unknownRole(field: "hello.role", offset: roleAt, role: roleByte)
            }
            // A claim is at least 9 bytes (absent index tag + token).
            let n = try r.listCount("hello.claims", minimumEntryBytes: 9)
            var claims: [ClientClaim] = []
            claims.reserveCapacity(n)
            for _ in 0..<n {
                let index = try r.optionalInt("hello.claims.index")
                claims.append(ClientClaim(index: index, token: try r.u64("hello.claims.token")))
            }
            return .hello(HelloMessage(processName: name, role: role, claims: claims))
        case .welcome:
            let na = try r.listCount("welcome.accepted", minimumEntryBytes: 16)
            var accepted: [WelcomeMessage.Accepted] = []
            accepted.reserveCapacity(na)
            for _ in 0..<na {
                let index = try r.int("welcome.accepted.index")
                accepted.append(.init(index: index, token: try r.u64("welcome.accepted.token")))
            }
            // An entry is at least 25 bytes: empty reason (8), retry (1), claims (8), no ranges (8).
            let nr = try r.listCount("welcome.refused", minimumEntryBytes: 25)
            var refused: [WelcomeMessage.Refused] = []
            for _ in 0..<nr { refused.append(try r.refusal()) }
            let interval = try r.f64("welcome.heartbeatInterval")
            let liveness = try r.int("welcome.liveness")
            let spec = try r.blob("welcome.runSpec")
            return .welcome(WelcomeMessage(accepted: accepted, refused: refused, heartbeatInterval: interval,
                                           liveness: liveness, runSpec: spec))
        case .reject:
            return .reject(RejectMessage(reason: try r.string("reject.reason")))
        case .train:
            let round = try r.int("train.round")
            let clients = try r.ints("train.clients")
            let config = try r.metrics("train.config")
            return .train(TrainMessage(round: round, clients: clients, config: config))
        case .update:
            let round = try r.int("update.round")
            let index = try r.int("update.clientIndex")
            let token = try r.u64("update.token")
            let samples = try r.int("update.samples")
            let metrics = try r.metrics("update.metrics")
            let payload = try r.payload("update.delta")
            return .update(UpdateMessage(round: round, clientIndex: index, token: token, samples: samples,
                                         metrics: metrics, payload: payload))
        case .failure:
            let round = try r.int("failure.round")
            let index = try r.int("failure.clientIndex")
            let token = try r.u64("failure.token")
            let reason = try r.string("failure.reason")
            return .failure(FailureMessage(round: round, clientIndex: index, token: token, reason: reason))
        case .heartbeat:
            return .heartbeat
        case .shutdown:
            return .shutdown(ShutdownMessage(reason: try r.string("shutdown.reason")))
        case .bye:
            return .bye(ByeMessage(clients: try r.ints("bye.clients")))
        case .model:
            let round = try r.int("model.round")
            return .model(ModelMessage(round: round, parameters: try r.floats("model.parameters")))
        case .reset:
            return .reset(ResetMessage(reason: try r.string("reset.reason")))
        case .evaluate:
            let round = try r.int("evaluate.round")
            let clients = try r.ints("evaluate.clients")
            let config = try r.metrics("evaluate.config")
            return .evaluate(EvaluateMessage(round: round, clients: clients, config: config))
        case .evalResult:
            let round = try r.int("evalResult.round")
            let index = try r.int("evalResult.clientIndex")
            let token = try r.u64("evalResult.token")
            let samples = try r.int("evalResult.samples")
            let metrics = try r.metrics("evalResult.metrics")
            let error = try r.string("evalResult.error")
            return .evalResult(EvalResultMessage(round: round, clientIndex: index, token: token, samples: samples,
                                                 metrics: metrics, error: error))
        case .secAgg:
            let round = try r.int("secAgg.round")
            let index = try r.int("secAgg.clientIndex")
            let stage = try r.secAggStage("secAgg.stage")
            return .secAgg(SecAggMessage(round: round, clientIndex: index, stage: stage, body: try r.blob("secAgg.body")))
        case .secAggReply:
            let round = try r.int("secAggReply.round")
            let index = try r.int("secAggReply.clientIndex")
            let token = try r.u64("secAggReply.token")
            let stage = try r.secAggStage("secAggReply.stage")
            return .secAggReply(SecAggReplyMessage(round: round, clientIndex: index, token: token, stage: stage,
                                                   body: try r.blob("secAggReply.body")))
        }
    }
}
