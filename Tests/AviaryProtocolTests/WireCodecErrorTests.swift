import Testing
import AviaryProtocol

@Suite struct WireCodecErrorTests {
    func decodeError(_ bytes: [UInt8], limits: CodecLimits = .default) -> CodecError? {
        do { _ = try WireCodec.decode(bytes, limits: limits); return nil } catch { return error }
    }

    @Test func emptyAndShortFramesAreTruncated() {
        #expect(decodeError([]) == .truncated(field: "header.magic", offset: 0, needed: 4, available: 0))
        #expect(decodeError(Array("AVRY".utf8) + [2]) == .truncated(field: "header", offset: 4, needed: 4, available: 1))
        #expect(decodeError(Array("AVRY".utf8) + [7, 0, 7, 0, 0]) ==
                .truncated(field: "trailer.crc32", offset: 8, needed: 4, available: 1))
    }

    @Test func badMagic() {
        let frame = FrameBuilder(kind: 7, magic: Array("AVRX".utf8)).sealed()
        #expect(decodeError(frame) == .badMagic(found: Array("AVRX".utf8)))
    }

    @Test func unsupportedVersion() {
        // A peer of an earlier protocol is told so, not given a confusing field error.
        for version: UInt16 in [1, 2, 3, 4, 5, 6, 8] {
            #expect(decodeError(FrameBuilder(kind: 7, version: version).sealed()) == .unsupportedVersion(found: version, supported: 7))
        }
        #expect(decodeError(FrameBuilder(kind: 7, version: 0x0600).sealed()) == .unsupportedVersion(found: 1536, supported: 7))
    }

    @Test func unknownKindAndFlags() {
        #expect(decodeError(FrameBuilder(kind: 0).sealed()) == .unknownKind(0))
        #expect(decodeError(FrameBuilder(kind: 16).sealed()) == .unknownKind(16))
        #expect(decodeError(FrameBuilder(kind: 255).sealed()) == .unknownKind(255))
        #expect(decodeError(FrameBuilder(kind: 7, flags: 0x80).sealed()) == .unsupportedFlags(0x80))
    }

    @Test func crcMismatchOnAnyFlippedBit() {
        let frame = WireCodec.encode(.failure(FailureMessage(round: 1, clientIndex: 2, token: 3, reason: "x")))
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
        b.ints([3]); b.u8(0xAA); b.u8(0xBB)
        #expect(decodeError(b.sealed()) == .trailingBytes(offset: 24, count: 2))
        // HEARTBEAT has no payload in version 2: any body byte is trailing.
        var h = FrameBuilder(kind: 7)
        h.u8(0)
        #expect(decodeError(h.sealed()) == .trailingBytes(offset: 8, count: 1))
    }

    @Test func truncatedBodyNamesTheField() {
        var b = FrameBuilder(kind: 6)
        b.i64(1); b.i64(2); b.u64(3); b.i64(10); b.bytes += Array("abc".utf8)
        #expect(decodeError(b.sealed()) == .truncated(field: "failure.reason", offset: 40, needed: 10, available: 3))
        var c = FrameBuilder(kind: 9)
        c.u8(1)
        #expect(decodeError(c.sealed()) == .truncated(field: "bye.clients", offset: 8, needed: 8, available: 1))
        var t = FrameBuilder(kind: 5)
        t.i64(1); t.i64(2); t.bytes += [1, 2, 3]  // token cut after 3 bytes
        #expect(decodeError(t.sealed()) == .truncated(field: "update.token", offset: 24, needed: 8, available: 3))
    }

    @Test func helloClaimTruncatedInTheMiddle() {
        // Two claims announced; the second one's index stops after 4 of its 8 bytes.
        var b = FrameBuilder(kind: 1)
        b.string("p")                       // 8 ..< 17
        b.u8(0)                             // 17: role (trainer)
        b.i64(2)                            // 18 ..< 26
        b.u8(1); b.i64(5); b.u64(0xAB)      // 26 ..< 43: first claim, whole
        b.u8(1); b.bytes += [7, 0, 0, 0]    // 43: tag, 44 ..< 48: half an index
        #expect(decodeError(b.sealed()) == .truncated(field: "hello.claims.index", offset: 44, needed: 8, available: 4))
        // The same with the cut inside the token of an absent-index claim.
        var c = FrameBuilder(kind: 1)
        c.string("p"); c.u8(0); c.i64(2)
        c.u8(1); c.i64(4); c.u64(1)         // 26 ..< 43
        c.u8(0); c.bytes += [1, 2, 3, 4, 5] // 43: tag, 44 ..< 49: five token bytes
        #expect(decodeError(c.sealed()) == .truncated(field: "hello.claims.token", offset: 44, needed: 8, available: 5))
    }

    @Test func negativeCounts() {
        var s = FrameBuilder(kind: 3)
        s.i64(-1)
        #expect(decodeError(s.sealed()) == .negativeCount(field: "reject.reason", offset: 8, value: -1))
        var v = FrameBuilder(kind: 10)
        v.i64(1); v.i64(Int64.min)
        #expect(decodeError(v.sealed()) == .negativeCount(field: "model.parameters", offset: 16, value: Int64.min))
        var l = FrameBuilder(kind: 4)
        l.i64(1); l.i64(-5)
        #expect(decodeError(l.sealed()) == .negativeCount(field: "train.clients", offset: 16, value: -5))
        var m = FrameBuilder(kind: 4)
        m.i64(1); m.i64(0); m.i64(-5)
        #expect(decodeError(m.sealed()) == .negativeCount(field: "train.config", offset: 24, value: -5))
        var h = FrameBuilder(kind: 1)
        h.string(""); h.u8(0); h.i64(-1)
        #expect(decodeError(h.sealed()) == .negativeCount(field: "hello.claims", offset: 17, value: -1))
        var w = FrameBuilder(kind: 2)
        w.i64(0); w.i64(-2)
        #expect(decodeError(w.sealed()) == .negativeCount(field: "welcome.refused", offset: 16, value: -2))
    }

    @Test func stringTooLongIsRejectedBeforeReading() {
        var b = FrameBuilder(kind: 8)
        b.i64(65_537)  // claims 64 KiB + 1 but carries nothing
        #expect(decodeError(b.sealed()) == .stringTooLong(field: "shutdown.reason", offset: 8, length: 65_537, limit: 65_536))
        var r = FrameBuilder(kind: 11)
        r.i64(1 << 40)
        #expect(decodeError(r.sealed()) == .stringTooLong(field: "reset.reason", offset: 8, length: 1 << 40, limit: 65_536))
        // Exactly at the limit is fine.
        let ok = Message.shutdown(ShutdownMessage(reason: String(repeating: "a", count: 65_536)))
        #expect(decodeError(WireCodec.encode(ok)) == nil)
    }

    @Test func blobTooLong() {
        var b = FrameBuilder(kind: 2)
        b.i64(0); b.i64(0); b.f64(2); b.i64(3); b.i64(Int64(1) << 40)
        #expect(decodeError(b.sealed()) == .blobTooLong(field: "welcome.runSpec", offset: 40, length: 1 << 40, limit: 16 << 20))
    }

    @Test func refusedRetryByteMustBeZeroOrOne() {
        var b = FrameBuilder(kind: 2)
        b.i64(0); b.i64(1)                  // no accepted, one refused
        b.string("x"); b.u8(2)              // 24 ..< 33: reason, 33: retry
        b.i64(1); b.i64(0); b.f64(2); b.i64(3); b.i64(0)
        #expect(decodeError(b.sealed()) == .invalidOptionalTag(field: "welcome.refused.retry", offset: 33, tag: 2))
        // The same frame with retry 1 decodes.
        var ok = FrameBuilder(kind: 2)
        ok.i64(0); ok.i64(1); ok.string("x"); ok.u8(1); ok.i64(1); ok.i64(0); ok.f64(2); ok.i64(3); ok.i64(0)
        #expect(decodeError(ok.sealed()) == nil)
    }

    @Test func tooManyMetrics() {
        var b = FrameBuilder(kind: 5)
        b.i64(1); b.i64(0); b.u64(0); b.i64(1); b.i64(257)
        #expect(decodeError(b.sealed()) == .tooManyMetrics(field: "update.metrics", offset: 40, count: 257, limit: 256))
        // 256 real entries are accepted.
        var metrics: [String: Double] = [:]
        for i in 0..<256 { metrics["m\(i)"] = Double(i) }
        let m = Message.update(UpdateMessage(round: 1, clientIndex: 0, samples: 1, metrics: metrics, delta: []))
        #expect(decodeError(WireCodec.encode(m)) == nil)
    }

    @Test func listCountAboveTheLimit() {
        let limit = CodecLimits.default.maxListEntries
        #expect(limit == 1 << 21)
        var t = FrameBuilder(kind: 4)
        t.i64(1); t.i64(Int64(limit) + 1)
        #expect(decodeError(t.sealed()) == .tooManyEntries(field: "train.clients", offset: 16, count: Int64(limit) + 1, limit: limit))
        var h = FrameBuilder(kind: 1)
        h.string("p"); h.u8(0); h.i64(.max)
        #expect(decodeError(h.sealed()) == .tooManyEntries(field: "hello.claims", offset: 18, count: .max, limit: limit))
        // Custom limits apply to every list, and a list exactly at the limit is fine.
        let two = CodecLimits(maxListEntries: 2)
        #expect(decodeError(WireCodec.encode(.bye(ByeMessage(clients: [1, 2, 3]))), limits: two) ==
                .tooManyEntries(field: "bye.clients", offset: 8, count: 3, limit: 2))
        #expect(decodeError(WireCodec.encode(.bye(ByeMessage(clients: [1, 2]))), limits: two) == nil)
        let hello = Message.hello(HelloMessage(processName: "p", claims: [ClientClaim(index: 1), ClientClaim(index: nil),
                                                                          ClientClaim(index: 2)]))
        #expect(decodeError(WireCodec.encode(hello), limits: two) ==
                .tooManyEntries(field: "hello.claims", offset: 18, count: 3, limit: 2))
        let welcome = Message.welcome(WelcomeMessage(
            accepted: [.init(index: 0, token: 1)],
            refused: [.init(reason: .stated("a"), retry: true, claims: 1, indices: [1...1]),
                      .init(reason: .stated("b"), retry: false, claims: 1, indices: [2...2]),
                      .init(reason: .stated("c"), retry: true, claims: 1, indices: [])],
            heartbeatInterval: 1, liveness: 3, runSpec: []))
        // accepted: 8 ..< 16 count, 16 ..< 32 entry; refused count at 32.
        #expect(decodeError(WireCodec.encode(welcome), limits: two) ==
                .tooManyEntries(field: "welcome.refused", offset: 32, count: 3, limit: 2))
    }

    @Test func listCountLargerThanTheBytesLeftIsTruncatedWithoutAllocating() {
        var b = FrameBuilder(kind: 9)
        b.i64(100); b.i64(1); b.i64(2)  // 100 entries need 800 bytes; 16 follow
        #expect(decodeError(b.sealed()) == .truncated(field: "bye.clients", offset: 16, needed: 800, available: 16))
        var w = FrameBuilder(kind: 2)
        w.i64(1 << 20)  // a million accepted entries need 16 MiB; none follow
        #expect(decodeError(w.sealed()) == .truncated(field: "welcome.accepted", offset: 16, needed: 16 << 20, available: 0))
        var h = FrameBuilder(kind: 1)
        h.string(""); h.u8(0); h.i64(3); h.u8(0); h.u64(0)  // 3 claims need at least 27 bytes; 9 follow
        #expect(decodeError(h.sealed()) == .truncated(field: "hello.claims", offset: 25, needed: 27, available: 9))
        var r = FrameBuilder(kind: 2)
        r.i64(0); r.i64(5); r.string(""); r.u8(0)  // 5 refused need at least 125 bytes; 9 follow
        #expect(decodeError(r.sealed()) == .truncated(field: "welcome.refused", offset: 24, needed: 125, available: 9))
    }

    @Test func metricsCountLargerThanRemainingBytesIsTruncatedWithoutAllocating() {
        var b = FrameBuilder(kind: 4)
        b.i64(1); b.i64(0); b.i64(200)  // 200 entries need ≥ 3200 bytes; none follow
        #expect(decodeError(b.sealed()) == .truncated(field: "train.config", offset: 32, needed: 3200, available: 0))
    }

    @Test func vectorTooLongAgainstDefaultAndCustomLimits() {
        var b = FrameBuilder(kind: 10)
        b.i64(1); b.i64(Int64(1) << 28 + 1)
        #expect(decodeError(b.sealed()) == .vectorTooLong(field: "model.parameters", offset: 16, count: 1 << 28 + 1, limit: 1 << 28))
        let m = Message.model(ModelMessage(round: 1, parameters: [1, 2, 3]))
        let small = CodecLimits(maxVectorCount: 2)
        #expect(decodeError(WireCodec.encode(m), limits: small) == .vectorTooLong(field: "model.parameters", offset: 16, count: 3, limit: 2))
    }

    @Test func hugeVectorCountWithTinyFrameIsTruncatedNotAllocated() {
        var b = FrameBuilder(kind: 5)
        b.i64(1); b.i64(0); b.u64(0); b.i64(1); b.i64(0); b.u8(0); b.i64(Int64(1) << 27)
        b.f32(1)
        #expect(decodeError(b.sealed()) ==
                .truncated(field: "update.delta.f32", offset: 57, needed: 4 << 27, available: 4))
        // Unbounded limits must not overflow the size arithmetic.
        let unbounded = CodecLimits(maxVectorCount: .max, maxListEntries: .max)
        var c = FrameBuilder(kind: 5)
        c.i64(1); c.i64(0); c.u64(0); c.i64(1); c.i64(0); c.u8(0); c.i64(.max)
        guard case .truncated = decodeError(c.sealed(), limits: unbounded) else { Issue.record("expected truncated"); return }
        var l = FrameBuilder(kind: 9)
        l.i64(.max)
        #expect(decodeError(l.sealed(), limits: unbounded) == .truncated(field: "bye.clients", offset: 16, needed: .max, available: 0))
    }

    @Test func invalidUTF8() {
        var b = FrameBuilder(kind: 1)
        b.rawString([0x63, 0xC3, 0x28]); b.i64(0)  // 0xC3 0x28 is an invalid 2-byte sequence
        #expect(decodeError(b.sealed()) == .invalidUTF8(field: "hello.processName", offset: 16))
        var s = FrameBuilder(kind: 3)
        s.rawString([0xED, 0xA0, 0x80])  // UTF-16 surrogate encoded in UTF-8
        #expect(decodeError(s.sealed()) == .invalidUTF8(field: "reject.reason", offset: 16))
        var w = FrameBuilder(kind: 2)
        w.i64(0); w.i64(1); w.rawString([0xFF]); w.u8(0); w.i64(1); w.i64(0); w.f64(1); w.i64(1); w.i64(0)
        #expect(decodeError(w.sealed()) == .invalidUTF8(field: "welcome.refused.reason", offset: 32))
    }

    @Test func invalidOptionalTag() {
        var b = FrameBuilder(kind: 1)
        b.string("c"); b.u8(0); b.i64(1); b.u8(2); b.u64(0)
        #expect(decodeError(b.sealed()) == .invalidOptionalTag(field: "hello.claims.index", offset: 26, tag: 2))
    }

    /// Protocol 5's HELLO role is 0 (trainer) or 1 (evaluator); anything else names the byte.
    @Test func unknownRole() {
        var b = FrameBuilder(kind: 1)
        b.string("c"); b.u8(2); b.i64(0)
        #expect(decodeError(b.sealed()) == .unknownRole(field: "hello.role", offset: 17, role: 2))
        var t = FrameBuilder(kind: 1)
        t.string("c")  // the frame ends where the role belongs
        #expect(decodeError(t.sealed()) == .truncated(field: "hello.role", offset: 17, needed: 1, available: 0))
    }

    /// Protocol 6's SECAGG stage byte is 1–4; anything else names the byte and its offset.
    @Test func unknownSecAggStage() {
        var b = FrameBuilder(kind: 14)
        b.i64(1); b.i64(0); b.u8(5); b.rawString([])
        #expect(decodeError(b.sealed()) == .unknownStage(field: "secAgg.stage", offset: 24, stage: 5))
        var r = FrameBuilder(kind: 15)
        r.i64(1); r.i64(0); r.u64(9); r.u8(0); r.rawString([])
        #expect(decodeError(r.sealed()) == .unknownStage(field: "secAggReply.stage", offset: 32, stage: 0))
    }

    /// EVAL_RESULT's fields are checked in order like UPDATE's: a cut error string names it.
    @Test func evalResultTruncatedInTheError() {
        var b = FrameBuilder(kind: 13)
        b.i64(1); b.i64(-1); b.u64(7); b.i64(10); b.i64(0); b.i64(5); b.bytes += Array("ab".utf8)
        #expect(decodeError(b.sealed()) == .truncated(field: "evalResult.error", offset: 56, needed: 5, available: 2))
        var e = FrameBuilder(kind: 12)
        e.i64(3); e.i64(-2)
        #expect(decodeError(e.sealed()) == .negativeCount(field: "evaluate.clients", offset: 16, value: -2))
    }

    /// WELCOME's summarised refusals (version 4): a range must not run backwards (a ClosedRange
    /// would trap on it) and a claim count must not be negative.
    @Test func refusedRangesAndCountsAreChecked() {
        // reason 24 ..< 32, retry 32, claims 33 ..< 41, range count 41 ..< 49, first range at 49.
        var w = FrameBuilder(kind: 2)
        w.i64(0); w.i64(1); w.string(""); w.u8(0); w.i64(2); w.i64(1); w.i64(5); w.i64(3); w.f64(1); w.i64(1); w.i64(0)
        #expect(decodeError(w.sealed()) == .invalidRange(field: "welcome.refused.indices", offset: 49, first: 5, last: 3))
        var c = FrameBuilder(kind: 2)
        c.i64(0); c.i64(1); c.string(""); c.u8(0); c.i64(-1); c.i64(0); c.f64(1); c.i64(1); c.i64(0)
        #expect(decodeError(c.sealed()) == .negativeCount(field: "welcome.refused.claims", offset: 33, value: -1))
        var ok = FrameBuilder(kind: 2)
        ok.i64(0); ok.i64(1); ok.string(""); ok.u8(0); ok.i64(2); ok.i64(1); ok.i64(3); ok.i64(5); ok.f64(1); ok.i64(1); ok.i64(0)
        #expect(decodeError(ok.sealed()) == nil)
    }

    @Test func duplicateMetricKey() {
        var b = FrameBuilder(kind: 4)
        b.i64(1); b.ints([]); b.i64(2); b.string("lr"); b.f64(0.1); b.string("lr"); b.f64(0.2)
        #expect(decodeError(b.sealed()) == .duplicateKey(field: "train.config", offset: 50, key: "lr"))
    }

    @Test func descriptionsNameTheProblem() {
        let cases: [CodecError] = [
            .badMagic(found: [1, 2, 3, 4]), .unsupportedVersion(found: 1, supported: 2), .unknownKind(42),
            .crcMismatch(inFrame: 1, computed: 2), .vectorTooLong(field: "update.delta", offset: 48, count: 9, limit: 8),
            .tooManyEntries(field: "train.clients", offset: 16, count: 3, limit: 2),
        ]
        for e in cases { #expect(!e.description.isEmpty) }
        #expect(cases[1].description.contains("same Aviary version"))
        #expect(cases[4].description.contains("update.delta"))
        #expect(cases[5].description.contains("train.clients") && cases[5].description.contains("limit of 2"))
    }

    @Test func categoryIsTheCaseName() {
        #expect(CodecError.crcMismatch(inFrame: 1, computed: 2).category == "crcMismatch")
        #expect(CodecError.unknownKind(12).category == "unknownKind")
        #expect(CodecError.tooManyEntries(field: "bye.clients", offset: 8, count: 3, limit: 2).category == "tooManyEntries")
        #expect(CodecError.truncated(field: "x", offset: 0, needed: 1, available: 0).category == "truncated")
        #expect(CodecError.unexpectedFrames(count: 3).category == "unexpectedFrames")
    }
}
