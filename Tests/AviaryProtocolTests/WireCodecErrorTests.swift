import Testing
import AviaryProtocol

@Suite struct WireCodecErrorTests {
    func decodeError(_ bytes: [UInt8], limits: CodecLimits = .default) -> CodecError? {
        do { _ = try WireCodec.decode(bytes, limits: limits); return nil } catch { return error }
    }

    @Test func emptyAndShortFramesAreTruncated() {
        #expect(decodeError([]) == .truncated(field: "header.magic", offset: 0, needed: 4, available: 0))
        #expect(decodeError(Array("AVRY".utf8) + [1]) == .truncated(field: "header", offset: 4, needed: 4, available: 1))
        #expect(decodeError(Array("AVRY".utf8) + [1, 0, 7, 0, 0]) ==
                .truncated(field: "trailer.crc32", offset: 8, needed: 4, available: 1))
    }

    @Test func badMagic() {
        let frame = FrameBuilder(kind: 7, magic: Array("AVRX".utf8)).sealed()
        #expect(decodeError(frame) == .badMagic(found: Array("AVRX".utf8)))
    }

    @Test func unsupportedVersion() {
        #expect(decodeError(FrameBuilder(kind: 7, version: 2).sealed()) == .unsupportedVersion(found: 2, supported: 1))
        #expect(decodeError(FrameBuilder(kind: 7, version: 0x0100).sealed()) == .unsupportedVersion(found: 256, supported: 1))
    }

    @Test func unknownKindAndFlags() {
        #expect(decodeError(FrameBuilder(kind: 0).sealed()) == .unknownKind(0))
        #expect(decodeError(FrameBuilder(kind: 10).sealed()) == .unknownKind(10))
        #expect(decodeError(FrameBuilder(kind: 7, flags: 0x80).sealed()) == .unsupportedFlags(0x80))
    }

    @Test func crcMismatchOnAnyFlippedBit() {
        let frame = WireCodec.encode(.failure(Failure(round: 1, clientIndex: 2, reason: "x")))
        for i in 8..<(frame.count - 4) {
            var bad = frame
            bad[i] ^= 0x10
            guard case .crcMismatch = decodeError(bad) else { Issue.record("byte \(i) flip not caught"); continue }
        }
        var badTrailer = frame
        badTrailer[frame.count - 1] ^= 1
        guard case .crcMismatch(let inFrame, let computed) = decodeError(badTrailer) else { Issue.record("trailer"); return }
        #expect(inFrame != computed)
    }

    @Test func trailingBytesAfterBody() {
        var b = FrameBuilder(kind: 9)
        b.i64(3); b.u8(0xAA); b.u8(0xBB)
        #expect(decodeError(b.sealed()) == .trailingBytes(offset: 16, count: 2))
    }

    @Test func truncatedBodyNamesTheField() {
        var b = FrameBuilder(kind: 6)
        b.i64(1); b.i64(2); b.i64(10); b.bytes += Array("abc".utf8)
        #expect(decodeError(b.sealed()) == .truncated(field: "failure.reason", offset: 32, needed: 10, available: 3))
        var c = FrameBuilder(kind: 9)
        c.u8(1)
        #expect(decodeError(c.sealed()) == .truncated(field: "bye.clientIndex", offset: 8, needed: 8, available: 1))
    }

    @Test func negativeCounts() {
        var s = FrameBuilder(kind: 3)
        s.i64(-1)
        #expect(decodeError(s.sealed()) == .negativeCount(field: "reject.reason", offset: 8, value: -1))
        var v = FrameBuilder(kind: 4)
        v.i64(1); v.i64(0); v.i64(Int64.min)
        #expect(decodeError(v.sealed()) == .negativeCount(field: "task.parameters", offset: 24, value: Int64.min))
        var m = FrameBuilder(kind: 4)
        m.i64(1); m.i64(-5)
        #expect(decodeError(m.sealed()) == .negativeCount(field: "task.config", offset: 16, value: -5))
    }

    @Test func stringTooLongIsRejectedBeforeReading() {
        var b = FrameBuilder(kind: 8)
        b.i64(65_537)  // claims 64 KiB + 1 but carries nothing
        #expect(decodeError(b.sealed()) == .stringTooLong(field: "shutdown.reason", offset: 8, length: 65_537, limit: 65_536))
        // Exactly at the limit is fine.
        let ok = Message.shutdown(Shutdown(reason: String(repeating: "a", count: 65_536)))
        #expect(decodeError(WireCodec.encode(ok)) == nil)
    }

    @Test func blobTooLong() {
        var b = FrameBuilder(kind: 2)
        b.i64(0); b.i64(Int64(1) << 40)
        #expect(decodeError(b.sealed()) == .blobTooLong(field: "welcome.runSpec", offset: 16, length: 1 << 40, limit: 16 << 20))
    }

    @Test func tooManyMetrics() {
        var b = FrameBuilder(kind: 5)
        b.i64(1); b.i64(0); b.i64(1); b.i64(257)
        #expect(decodeError(b.sealed()) == .tooManyMetrics(field: "update.metrics", offset: 32, count: 257, limit: 256))
        // 256 real entries are accepted.
        var metrics: [String: Double] = [:]
        for i in 0..<256 { metrics["m\(i)"] = Double(i) }
        #expect(decodeError(WireCodec.encode(.update(Update(round: 1, clientIndex: 0, samples: 1, metrics: metrics, delta: [])))) == nil)
    }

    @Test func metricsCountLargerThanRemainingBytesIsTruncatedWithoutAllocating() {
        var b = FrameBuilder(kind: 4)
        b.i64(1); b.i64(200)  // 200 entries need ≥ 3200 bytes; none follow
        #expect(decodeError(b.sealed()) == .truncated(field: "task.config", offset: 24, needed: 3200, available: 0))
    }

    @Test func vectorTooLongAgainstDefaultAndCustomLimits() {
        var b = FrameBuilder(kind: 4)
        b.i64(1); b.i64(0); b.i64(Int64(1) << 28 + 1)
        #expect(decodeError(b.sealed()) == .vectorTooLong(field: "task.parameters", offset: 24, count: 1 << 28 + 1, limit: 1 << 28))
        let m = Message.task(Task(round: 1, parameters: [1, 2, 3], config: [:]))
        let small = CodecLimits(maxVectorCount: 2)
        #expect(decodeError(WireCodec.encode(m), limits: small) == .vectorTooLong(field: "task.parameters", offset: 24, count: 3, limit: 2))
    }

    @Test func hugeVectorCountWithTinyFrameIsTruncatedNotAllocated() {
        var b = FrameBuilder(kind: 5)
        b.i64(1); b.i64(0); b.i64(1); b.i64(0); b.i64(Int64(1) << 27)
        b.f32(1)
        #expect(decodeError(b.sealed()) ==
                .truncated(field: "update.delta", offset: 48, needed: 4 << 27, available: 4))
        // An unbounded limit must not overflow the size arithmetic.
        let unbounded = CodecLimits(maxVectorCount: .max)
        var c = FrameBuilder(kind: 5)
        c.i64(1); c.i64(0); c.i64(1); c.i64(0); c.i64(.max)
        guard case .truncated = decodeError(c.sealed(), limits: unbounded) else { Issue.record("expected truncated"); return }
    }

    @Test func invalidUTF8() {
        var b = FrameBuilder(kind: 1)
        b.rawString([0x63, 0xC3, 0x28]); b.u8(0)  // 0xC3 0x28 is an invalid 2-byte sequence
        #expect(decodeError(b.sealed()) == .invalidUTF8(field: "hello.clientName", offset: 16))
        var s = FrameBuilder(kind: 3)
        s.rawString([0xED, 0xA0, 0x80])  // UTF-16 surrogate encoded in UTF-8
        #expect(decodeError(s.sealed()) == .invalidUTF8(field: "reject.reason", offset: 16))
    }

    @Test func invalidOptionalTag() {
        var b = FrameBuilder(kind: 1)
        b.string("c"); b.u8(2)
        #expect(decodeError(b.sealed()) == .invalidOptionalTag(field: "hello.requestedIndex", offset: 17, tag: 2))
    }

    @Test func duplicateMetricKey() {
        var b = FrameBuilder(kind: 4)
        b.i64(1); b.i64(2); b.string("lr"); b.f64(0.1); b.string("lr"); b.f64(0.2); b.i64(0)
        #expect(decodeError(b.sealed()) == .duplicateKey(field: "task.config", offset: 42, key: "lr"))
    }

    @Test func descriptionsNameTheProblem() {
        let cases: [CodecError] = [
            .badMagic(found: [1, 2, 3, 4]), .unsupportedVersion(found: 2, supported: 1), .unknownKind(42),
            .crcMismatch(inFrame: 1, computed: 2), .vectorTooLong(field: "update.delta", offset: 48, count: 9, limit: 8),
        ]
        for e in cases { #expect(!e.description.isEmpty) }
        #expect(cases[1].description.contains("same Aviary version"))
        #expect(cases[4].description.contains("update.delta"))
    }
}
