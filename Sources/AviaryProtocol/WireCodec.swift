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
        w.u8(0)  // flags: reserved in version 1
        writeBody(m, &w)
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<w.offset]))
        w.u32(crc)
    }

    private static func bodySize(_ m: Message) -> Int {
        switch m {
        case .hello(let h): WireSize.string(h.clientName) + WireSize.optionalInt(h.requestedIndex)
        case .welcome(let w): WireSize.int + WireSize.blob(w.runSpec)
        case .reject(let r): WireSize.string(r.reason)
        case .task(let t): WireSize.int + WireSize.metrics(t.config) + WireSize.floats(t.parameters)
        case .update(let u): 3 * WireSize.int + WireSize.metrics(u.metrics) + WireSize.floats(u.delta)
        case .failure(let f): 2 * WireSize.int + WireSize.string(f.reason)
        case .heartbeat: 0
        case .shutdown(let s): WireSize.string(s.reason)
        case .bye: WireSize.int
        }
    }

    private static func writeBody(_ m: Message, _ w: inout WireWriter) {
        switch m {
        case .hello(let h):
            w.string(h.clientName); w.optionalInt(h.requestedIndex)
        case .welcome(let x):
            w.int(x.clientIndex); w.blob(x.runSpec)
        case .reject(let r):
            w.string(r.reason)
        case .task(let t):
            w.int(t.round); w.metrics(t.config); w.floats(t.parameters)
        case .update(let u):
            w.int(u.round); w.int(u.clientIndex); w.int(u.samples); w.metrics(u.metrics); w.floats(u.delta)
        case .failure(let f):
            w.int(f.round); w.int(f.clientIndex); w.string(f.reason)
        case .heartbeat:
            break
        case .shutdown(let s):
            w.string(s.reason)
        case .bye(let b):
            w.int(b.clientIndex)
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
            let name = try r.string("hello.clientName")
            let index = try r.optionalInt("hello.requestedIndex")
            return .hello(Hello(clientName: name, requestedIndex: index))
        case .welcome:
            let index = try r.int("welcome.clientIndex")
            let spec = try r.blob("welcome.runSpec")
            return .welcome(Welcome(clientIndex: index, runSpec: spec))
        case .reject:
            return .reject(Reject(reason: try r.string("reject.reason")))
        case .task:
            let round = try r.int("task.round")
            let config = try r.metrics("task.config")
            let parameters = try r.floats("task.parameters")
            return .task(Task(round: round, parameters: parameters, config: config))
        case .update:
            let round = try r.int("update.round")
            let index = try r.int("update.clientIndex")
            let samples = try r.int("update.samples")
            let metrics = try r.metrics("update.metrics")
            let delta = try r.floats("update.delta")
            return .update(Update(round: round, clientIndex: index, samples: samples, metrics: metrics, delta: delta))
        case .failure:
            let round = try r.int("failure.round")
            let index = try r.int("failure.clientIndex")
            let reason = try r.string("failure.reason")
            return .failure(Failure(round: round, clientIndex: index, reason: reason))
        case .heartbeat:
            return .heartbeat(Heartbeat())
        case .shutdown:
            return .shutdown(Shutdown(reason: try r.string("shutdown.reason")))
        case .bye:
            return .bye(Bye(clientIndex: try r.int("bye.clientIndex")))
        }
    }
}
