import Testing
import AviaryProtocol

/// A message and its frame assembled by hand from docs/PROTOCOL.md's body table.
struct ReferenceFrame: Sendable, CustomTestStringConvertible {
    let name: String
    let message: Message
    let frame: [UInt8]
    var testDescription: String { name }
}

@Suite struct WireCodecRoundTripTests {
    @Test(arguments: SampleMessages.all)
    func everyMessageRoundTripsBitwise(_ message: Message) throws {
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        let decoded = try WireCodec.decode(bytes)
        #expect(bitwiseEqual(decoded, message), "decoded \(decoded) from \(message)")
        // Deterministic: encoding the decoded message reproduces the same bytes.
        #expect(WireCodec.encode(decoded) == bytes)
    }

    @Test func everyKindIsCovered() {
        #expect(Set(SampleMessages.all.map(\.kind)) == Set(Message.Kind.allCases))
        #expect(Set(Self.referenceFrames.map(\.message.kind)) == Set(Message.Kind.allCases))
    }

    @Test func kindBytesAreTheDocumentedOnes() {
        let bytes: [Message.Kind: UInt8] = [.hello: 1, .welcome: 2, .reject: 3, .train: 4, .update: 5, .failure: 6,
                                            .heartbeat: 7, .shutdown: 8, .bye: 9, .model: 10, .reset: 11,
                                            .evaluate: 12, .evalResult: 13, .secAgg: 14, .secAggReply: 15]
        for kind in Message.Kind.allCases { #expect(kind.rawValue == bytes[kind], "\(kind)") }
        #expect(protocolVersion == 7)
    }

    /// Every kind, assembled field by field with `FrameBuilder`, never with the codec.
    static var referenceFrames: [ReferenceFrame] {
        var out: [ReferenceFrame] = []
        func add(_ name: String, _ m: Message, kind: UInt8, _ body: (inout FrameBuilder) -> Void) {
            var b = FrameBuilder(kind: kind)
            body(&b)
            out.append(ReferenceFrame(name: name, message: m, frame: b.sealed()))
        }
        add("HELLO with pinned, absent and token claims",
            .hello(HelloMessage(processName: "p1", claims: [ClientClaim(index: 5), ClientClaim(index: nil, token: 9),
                                                            ClientClaim(index: 2, token: 0xFEDC_BA98_7654_3210)])),
            kind: 1) { b in
            b.string("p1"); b.u8(0); b.i64(3)
            b.u8(1); b.i64(5); b.u64(0)
            b.u8(0); b.u64(9)
            b.u8(1); b.i64(2); b.u64(0xFEDC_BA98_7654_3210)
        }
        add("WELCOME with accepted and refused (retry 1 and 0, ranges and a count)",
            .welcome(WelcomeMessage(accepted: [.init(index: 0, token: 11), .init(index: 4, token: .max)],
                                    refused: [.init(reason: .stated("taken"), retry: true, claims: 4, indices: [3...3, 6...8]),
                                              .init(reason: .stated("full"), retry: false, claims: 2, indices: [])],
                                    heartbeatInterval: 2.5, liveness: 3, runSpec: Array("{}".utf8))),
            kind: 2) { b in
            b.i64(2); b.i64(0); b.u64(11); b.i64(4); b.u64(.max)
            b.i64(2)
            b.string("taken"); b.u8(1); b.i64(4); b.i64(2); b.i64(3); b.i64(3); b.i64(6); b.i64(8)
            b.string("full"); b.u8(0); b.i64(2); b.i64(0)
            b.f64(2.5); b.i64(3); b.rawString(Array("{}".utf8))
        }
        add("REJECT", .reject(RejectMessage(reason: "vX")), kind: 3) { b in b.string("vX") }
        add("TRAIN with a client list and sorted config",
            .train(TrainMessage(round: 7, clients: [2, 0, 9], config: ["lr": 0.05, "epochs": 2])), kind: 4) { b in
            b.i64(7); b.i64(3); b.i64(2); b.i64(0); b.i64(9)
            b.i64(2); b.string("epochs"); b.f64(2); b.string("lr"); b.f64(0.05)
        }
        add("UPDATE with token, sorted metrics, raw floats",
            .update(UpdateMessage(round: 2, clientIndex: 1, token: 0xAB, samples: 100,
                                  metrics: ["b": -2.5, "a": 1.0], delta: [1, -0.5, 3e-8])), kind: 5) { b in
            b.i64(2); b.i64(1); b.u64(0xAB); b.i64(100)
            b.i64(2); b.string("a"); b.f64(1.0); b.string("b"); b.f64(-2.5)
            b.u8(0); b.i64(3); b.f32(1); b.f32(-0.5); b.f32(3e-8)
        }
        add("FAILURE with token", .failure(FailureMessage(round: 9, clientIndex: 4, token: 77, reason: "NaN")), kind: 6) { b in
            b.i64(9); b.i64(4); b.u64(77); b.string("NaN")
        }
        add("HEARTBEAT", .heartbeat, kind: 7) { _ in }
        add("SHUTDOWN", .shutdown(ShutdownMessage(reason: "done")), kind: 8) { b in b.string("done") }
        add("BYE with two clients", .bye(ByeMessage(clients: [3, 12])), kind: 9) { b in b.i64(2); b.i64(3); b.i64(12) }
        add("MODEL", .model(ModelMessage(round: 4, parameters: [0.25, -1, .infinity])), kind: 10) { b in
            b.i64(4); b.i64(3); b.f32(0.25); b.f32(-1); b.f32(.infinity)
        }
        add("RESET", .reset(ResetMessage(reason: "who?")), kind: 11) { b in b.string("who?") }
        add("HELLO from an evaluator", .hello(HelloMessage(processName: "ev", role: .evaluator, claims: [])), kind: 1) { b in
            b.string("ev"); b.u8(1); b.i64(0)
        }
        add("EVALUATE with clients and config",
            .evaluate(EvaluateMessage(round: 6, clients: [4, 1], config: ["batch": 64])), kind: 12) { b in
            b.i64(6); b.ints([4, 1]); b.i64(1); b.string("batch"); b.f64(64)
        }
        add("EVAL_RESULT from the evaluator, sorted metrics, empty error",
            .evalResult(EvalResultMessage(round: 6, clientIndex: -1, token: 0xFEDC_BA98_7654_3210, samples: 10000,
                                          metrics: ["loss": 0.5, "accuracy": 0.75])), kind: 13) { b in
            b.i64(6); b.i64(-1); b.u64(0xFEDC_BA98_7654_3210); b.i64(10000)
            b.i64(2); b.string("accuracy"); b.f64(0.75); b.string("loss"); b.f64(0.5); b.string("")
        }
        add("EVAL_RESULT with an error", .evalResult(EvalResultMessage(round: 2, clientIndex: 3, token: 9, samples: 0, metrics: [:],
                                                                       error: "boom")), kind: 13) { b in
            b.i64(2); b.i64(3); b.u64(9); b.i64(0); b.i64(0); b.string("boom")
        }
        add("SECAGG: round, client, stage, body", .secAgg(SecAggMessage(round: 7, clientIndex: 2, stage: 4, body: [1, 0, 0, 0, 9, 0, 0, 0])),
            kind: 14) { b in
            b.i64(7); b.i64(2); b.u8(4); b.rawString([1, 0, 0, 0, 9, 0, 0, 0])
        }
        add("SECAGG_REPLY: round, client, token, stage, body",
            .secAggReply(SecAggReplyMessage(round: 7, clientIndex: 2, token: 0xABCD, stage: 1, body: [])), kind: 15) { b in
            b.i64(7); b.i64(2); b.u64(0xABCD); b.u8(1); b.rawString([])
        }
        return out
    }

    @Test(arguments: referenceFrames)
    func encodingMatchesHandAssembledFrame(_ ref: ReferenceFrame) throws {
        #expect(WireCodec.encode(ref.message) == ref.frame)
        #expect(WireCodec.encodedSize(ref.message) == ref.frame.count)
        #expect(try WireCodec.decode(ref.frame) == ref.message)
    }

    @Test func heartbeatBytesMatchHandComputedFrame() {
        // "AVRY", version 7, kind 7, flags 0, CRC-32 0x66c36baf (python: zlib.crc32).
        let expected: [UInt8] = [0x41, 0x56, 0x52, 0x59, 0x07, 0x00, 0x07, 0x00, 0xAF, 0x6B, 0xC3, 0x66]
        #expect(WireCodec.encode(.heartbeat) == expected)
        #expect(FrameBuilder(kind: 7).sealed() == expected)
    }

    @Test func byeBytesMatchHandComputedFrame() {
        // BYE(clients: [3]): count 1, then 3; CRC-32 0x9c2ee54b (python: zlib.crc32).
        let expected: [UInt8] = [0x41, 0x56, 0x52, 0x59, 0x07, 0x00, 0x09, 0x00,
                                 0x01, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0,
                                 0x4B, 0xE5, 0x2E, 0x9C]
        #expect(WireCodec.encode(.bye(ByeMessage(clients: [3]))) == expected)
        var b = FrameBuilder(kind: 9)
        b.ints([3])
        #expect(b.sealed() == expected)
    }

    @Test func helloSizeIsNameThenClaims() throws {
        // 8 header + (8 + 2) name + 1 role + 8 count + (9 + 8) pinned claim + (1 + 8) absent claim + 4 CRC.
        let m = Message.hello(HelloMessage(processName: "c1", claims: [ClientClaim(index: 5), ClientClaim(index: nil)]))
        #expect(WireCodec.encodedSize(m) == 8 + 10 + 1 + 8 + 17 + 9 + 4)
    }

    @Test func bigVectorRoundTrips() throws {
        let n = 1_660_000
        let delta = (0..<n).map { Float($0 % 977) * 0.001 - 0.3 }
        let m = Message.update(UpdateMessage(round: 1, clientIndex: 0, token: 5, samples: 6000,
                                             metrics: ["samples": 6000], delta: delta))
        let bytes = WireCodec.encode(m)
        // header + round, index, token, samples + map{samples} + encoding tag + count + floats + CRC.
        #expect(bytes.count == 8 + 32 + (8 + 15 + 8) + 1 + 8 + 4 * n + 4)
        guard case .update(let u) = try WireCodec.decode(bytes) else { Issue.record("wrong kind"); return }
        let intact = u.payload.f32Values == delta  // a Bool, so a failure does not print 1.66M floats
        #expect(intact)
        #expect(u.token == 5)
    }

    @Test func encodeIntoBufferMatchesArrayEncoding() {
        for m in SampleMessages.all {
            let size = WireCodec.encodedSize(m)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { raw.deallocate() }
            WireCodec.encode(m, into: raw)
            #expect(Array(raw) == WireCodec.encode(m))
        }
    }

    @Test func decodeFromUnalignedBuffer() throws {
        for m in [Message.model(ModelMessage(round: 3, parameters: [1, 2, 3])),
                  .hello(HelloMessage(processName: "u", claims: [ClientClaim(index: 1, token: 0x0102_0304_0506_0708)]))] {
            let padded = [0xEE] + WireCodec.encode(m)
            let decoded = try padded.withUnsafeBytes { raw throws(CodecError) in
                try WireCodec.decode(UnsafeRawBufferPointer(rebasing: raw[1...]))
            }
            #expect(decoded == m)
        }
    }
}
