/// The bytes of each stage's body inside a SECAGG / SECAGG_REPLY frame (docs/PROTOCOL.md,
/// section 8). The frame codec (AviaryProtocol) checks the envelope; the stage body is read
/// here, next to the types it builds. All integers little-endian; client indices as UInt32.
/// Counts are checked against the bytes left before anything is allocated, so a hostile body
/// costs no more memory than its own size.
public enum SecAggBodyCodec {
    public enum Stage: UInt8, Sendable, CaseIterable {
        case advertiseKeys = 1, shareKeys = 2, maskedInput = 3, unmasking = 4
    }

    // MARK: Server → client

    public static func encode(_ m: SecAggServerMessage) -> (stage: Stage, body: [UInt8]) {
        var w = BodyWriter()
        switch m {
        case .advertiseKeys(let p):
            w.u32(p.graph.degree); w.u32(p.threshold); w.u64(p.graphSeed); w.f64(p.quantiser.clippingRange)
            w.u8(p.quantiser.quantisationBits); w.u8(p.quantiser.modulusBits); w.u32(p.vectorLength)
            w.u32(p.participants.count); for c in p.participants { w.u32(c) }
            return (.advertiseKeys, w.bytes)
        case .shareKeys(let keys):
            w.u32(keys.count); for k in keys { w.u32(k.client); w.raw(k.encryptionKey); w.raw(k.maskKey) }
            return (.shareKeys, w.bytes)
        case .maskInput(let shares):
            w.u32(shares.count); for s in shares { w.u32(s.from); w.u32(s.to); w.raw(s.ciphertext) }
            return (.maskedInput, w.bytes)
        case .unmask(let r):
            w.u32(r.survivors.count); for c in r.survivors { w.u32(c) }
            w.u32(r.dropped.count); for c in r.dropped { w.u32(c) }
            return (.unmasking, w.bytes)
        }
    }

    /// - Throws: a truncated or overlong body, or parameters `SecAggParameters` refuses.
    public static func decodeServer(stage: Stage, body: [UInt8], round: Int) throws(SecAggError) -> SecAggServerMessage {
        var r = BodyReader(body)
        let message: SecAggServerMessage
        switch stage {
        case .advertiseKeys:
            let degree = try r.u32(), threshold = try r.u32(), seed = try r.u64(), range = try r.f64()
            let qBits = Int(try r.u8()), mBits = Int(try r.u8()), length = try r.u32()
            let participants = try r.list(entryBytes: 4) { (r: inout BodyReader) throws(SecAggError) in try r.u32() }
            let q = try FixedPointQuantiser(clippingRange: range, quantisationBits: qBits, modulusBits: mBits)
            message = .advertiseKeys(try SecAggParameters(round: round, participants: participants, degree: degree, threshold: threshold,
                                                          graphSeed: seed, quantiser: q, vectorLength: length))
        case .shareKeys:
            message = .shareKeys(try r.list(entryBytes: 68) { (r: inout BodyReader) throws(SecAggError) in
                AdvertisedKeys(client: try r.u32(), encryptionKey: try r.raw(32), maskKey: try r.raw(32))
            })
        case .maskedInput:
            message = .maskInput(try r.list(entryBytes: 8 + ShareEncryption.ciphertextByteCount) { (r: inout BodyReader) throws(SecAggError) in
                EncryptedShare(from: try r.u32(), to: try r.u32(), ciphertext: try r.raw(ShareEncryption.ciphertextByteCount))
            })
        case .unmasking:
            let survivors = try r.list(entryBytes: 4) { (r: inout BodyReader) throws(SecAggError) in try r.u32() }
            let dropped = try r.list(entryBytes: 4) { (r: inout BodyReader) throws(SecAggError) in try r.u32() }
            message = .unmask(UnmaskRequest(survivors: survivors, dropped: dropped))
        }
        try r.finish()
        return message
    }

    // MARK: Client → server

    public static func encode(_ m: SecAggClientMessage) -> (stage: Stage, body: [UInt8]) {
        var w = BodyWriter()
        switch m {
        case .keys(let k):
            w.raw(k.encryptionKey); w.raw(k.maskKey)
            return (.advertiseKeys, w.bytes)
        case .shares(let shares):
            w.u32(shares.count); for s in shares { w.u32(s.to); w.raw(s.ciphertext) }
            return (.shareKeys, w.bytes)
        case .masked(let m):
            w.u32(m.values.count); w.u32s(m.values)
            return (.maskedInput, w.bytes)
        case .unmasked(let u):
            for list in [u.selfMaskShares, u.maskKeyShares] {
                w.u32(list.count); for s in list { w.u32(s.owner); w.raw(s.share.bytes) }
            }
            return (.unmasking, w.bytes)
        }
    }

    /// `client` is the frame's client index: every stage body speaks for that client.
    public static func decodeClient(stage: Stage, body: [UInt8], client: Int) throws(SecAggError) -> SecAggClientMessage {
        var r = BodyReader(body)
        let message: SecAggClientMessage
        switch stage {
        case .advertiseKeys:
            message = .keys(AdvertisedKeys(client: client, encryptionKey: try r.raw(32), maskKey: try r.raw(32)))
        case .shareKeys:
            message = .shares(try r.list(entryBytes: 4 + ShareEncryption.ciphertextByteCount) { (r: inout BodyReader) throws(SecAggError) in
                EncryptedShare(from: client, to: try r.u32(), ciphertext: try r.raw(ShareEncryption.ciphertextByteCount))
            })
        case .maskedInput:
            message = .masked(MaskedInput(client: client, values: try r.u32s()))
        case .unmasking:
            func shares(_ r: inout BodyReader) throws(SecAggError) -> [OwnedShare] {
                try r.list(entryBytes: 4 + ShamirShare.byteCount) { (r: inout BodyReader) throws(SecAggError) in
                    OwnedShare(owner: try r.u32(), share: try ShamirShare(bytes: try r.raw(ShamirShare.byteCount)))
                }
            }
            let selfMask = try shares(&r)
            message = .unmasked(UnmaskReply(client: client, selfMaskShares: selfMask, maskKeyShares: try shares(&r)))
        }
        try r.finish()
        return message
    }
}

struct BodyWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: Int) { bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: Int) { u32raw(UInt32(truncatingIfNeeded: v)) }
    mutating func u32raw(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// The masked vector in one append (a model's length of words: one call per word cost
    /// seconds per round at 100 clients; mapping `\.littleEndian` over it went through the key
    /// path for every word, ~12 % of a SecAgg run's CPU). On a little-endian host the words'
    /// memory already is the wire format.
    mutating func u32s(_ values: [UInt32]) {
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { u32raw(v) }
        #endif
    }
}

struct BodyReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func raw(_ n: Int) throws(SecAggError) -> [UInt8] {
        guard bytes.count - offset >= n else { throw .truncated(what: "a secure-aggregation body at byte \(offset)", needed: n, have: bytes.count - offset) }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    mutating func u8() throws(SecAggError) -> UInt8 { try raw(1)[0] }
    mutating func u32() throws(SecAggError) -> Int {
        Int(try raw(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
    }
    /// A u32 count, then that many little-endian u32 words, read in one pass (the masked
    /// vector: reading it word by word through `raw` allocated an array per word).
    mutating func u32s() throws(SecAggError) -> [UInt32] {
        let count = try u32()
        guard count <= (bytes.count - offset) / 4 else {
            throw .truncated(what: "a list of \(count) entries at byte \(offset)", needed: count * 4, have: bytes.count - offset)
        }
        let start = offset
        let values = bytes.withUnsafeBytes { raw in
            [UInt32](unsafeUninitializedCapacity: count) { buffer, initialised in
                #if _endian(little)
                // The words' bytes are already in memory order: one copy.
                if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress! + start, byteCount: 4 * count) }
                #else
                for i in 0..<count { buffer[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)) }
                #endif
                initialised = count
            }
        }
        offset += 4 * count
        return values
    }
    mutating func u64() throws(SecAggError) -> UInt64 {
        try raw(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
    mutating func f64() throws(SecAggError) -> Double { Double(bitPattern: try u64()) }

    /// A UInt32 count, then that many entries of at least `entryBytes` each.
    mutating func list<T>(entryBytes: Int, _ entry: (inout BodyReader) throws(SecAggError) -> T) throws(SecAggError) -> [T] {
        let count = try u32()
        guard count <= (bytes.count - offset) / entryBytes else {
            throw .truncated(what: "a list of \(count) entries at byte \(offset)", needed: count * entryBytes, have: bytes.count - offset)
        }
        var out: [T] = []; out.reserveCapacity(count)
        for _ in 0..<count { out.append(try entry(&self)) }
        return out
    }

    func finish() throws(SecAggError) {
        guard offset == bytes.count else { throw .invalidParameters("\(bytes.count - offset) bytes after the end of a secure-aggregation body") }
    }
}
