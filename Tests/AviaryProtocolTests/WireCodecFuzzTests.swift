import AviaryMath
import Testing
import AviaryProtocol

/// Hostile input never crashes the decoder: random mutations and truncations of valid frames
/// decode either to an error or to a message (which then re-encodes to the same bytes).
@Suite struct WireCodecFuzzTests {
    static let frames = SampleMessages.all.map(WireCodec.encode)

    static func mutate(_ frame: [UInt8], _ rng: inout RandomStream) -> [UInt8] {
        var f = frame
        switch rng.nextInt(below: 5) {
        case 0:  // flip random bits
            for _ in 0...rng.nextInt(below: 4) where !f.isEmpty { f[rng.nextInt(below: f.count)] ^= UInt8(1 << rng.nextInt(below: 8)) }
        case 1:  // truncate
            f = Array(f.prefix(rng.nextInt(below: f.count + 1)))
        case 2:  // overwrite an 8-byte window with an extreme length
            if f.count >= 16 {
                let at = 8 + rng.nextInt(below: f.count - 15)
                let v: Int64 = [Int64.max, Int64.min, -1, 1 << 31, 1 << 40, 65_537, 257, 1 << 21 + 1, 2][rng.nextInt(below: 9)]
                for k in 0..<8 { f[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            }
        case 3:  // insert random bytes
            let at = rng.nextInt(below: f.count + 1)
            f.insert(contentsOf: (0..<rng.nextInt(below: 9)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        default:  // pure garbage
            f = (0..<rng.nextInt(below: 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        return f
    }

    @Test func mutatedFramesNeverCrash() {
        var rng = RandomStream(seed: 2024, purpose: .other, index: 1)
        var errors = 0, messages = 0
        for i in 0..<20_000 {
            let base = Self.frames[i % Self.frames.count]
            var f = Self.mutate(base, &rng)
            // Half the cases get a valid CRC so the body parser sees the damage, not the CRC check.
            if i % 2 == 0 { f = FrameBuilder.resealed(f) }
            do {
                let m = try WireCodec.decode(f)
                messages += 1
                #expect(WireCodec.encode(m).count == f.count, "accepted frame must be canonical length")
            } catch {
                errors += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(errors > 10_000, "most mutations must be rejected (\(errors) errors, \(messages) messages)")
    }

    @Test func resealedTruncationsAlwaysFail() {
        // Every strict prefix of a valid frame (resealed so the CRC passes) is an error.
        for frame in Self.frames {
            for cut in 0..<(frame.count - 4) {
                let f = FrameBuilder.resealed(Array(frame.prefix(cut)))
                #expect(throws: CodecError.self) { try WireCodec.decode(f) }
            }
        }
    }
}

/// Random well-formed messages (seeded) survive encode → decode bit for bit.
@Suite struct WireCodecPropertyTests {
    static let alphabet: [Character] = ["a", "Z", "0", "_", " ", "é", "ß", "鳥", "🐦", "\u{0}", "\n", "\u{301}"]

    static func string(_ rng: inout RandomStream) -> String {
        String((0..<rng.nextInt(below: 12)).map { _ in alphabet[rng.nextInt(below: alphabet.count)] })
    }

    static func floats(_ rng: inout RandomStream) -> [Float] {
        (0..<rng.nextInt(below: 40)).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
    }

    static func metrics(_ rng: inout RandomStream) -> [String: Double] {
        var m: [String: Double] = [:]
        for _ in 0..<rng.nextInt(below: 6) { m[string(&rng)] = Double(bitPattern: rng.next()) }
        return m
    }

    static func int(_ rng: inout RandomStream) -> Int { Int(truncatingIfNeeded: rng.next()) }

    static func optionalInt(_ rng: inout RandomStream) -> Int? { rng.nextInt(below: 2) == 0 ? nil : int(&rng) }

    static func token(_ rng: inout RandomStream) -> SessionToken { rng.nextInt(below: 4) == 0 ? 0 : rng.next() }

    static func ints(_ rng: inout RandomStream) -> [Int] { (0..<rng.nextInt(below: 10)).map { _ in int(&rng) } }

    static func message(_ rng: inout RandomStream) -> Message {
        switch Message.Kind.allCases[rng.nextInt(below: Message.Kind.allCases.count)] {
        case .hello:
            .hello(HelloMessage(processName: string(&rng), role: rng.nextInt(below: 2) == 0 ? .trainer : .evaluator,
                                claims: (0..<rng.nextInt(below: 6)).map { _ in
                ClientClaim(index: optionalInt(&rng), token: token(&rng))
            }))
        case .welcome:
            .welcome(WelcomeMessage(
                accepted: (0..<rng.nextInt(below: 5)).map { _ in .init(index: int(&rng), token: token(&rng)) },
                refused: (0..<rng.nextInt(below: 4)).map { _ in
                    .init(reason: .stated(string(&rng)), retry: rng.nextInt(below: 2) == 1, claims: rng.nextInt(below: 1000),
                          indices: (0..<rng.nextInt(below: 3)).map { _ in let a = int(&rng), b = int(&rng); return min(a, b)...max(a, b) })
                },
                heartbeatInterval: Double(bitPattern: rng.next()), liveness: int(&rng),
                runSpec: (0..<rng.nextInt(below: 50)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        case .reject: .reject(RejectMessage(reason: string(&rng)))
        case .train: .train(TrainMessage(round: int(&rng), clients: ints(&rng), config: metrics(&rng)))
        case .update:
            .update(UpdateMessage(round: int(&rng), clientIndex: int(&rng), token: token(&rng), samples: int(&rng),
                                  metrics: metrics(&rng), delta: floats(&rng)))
        case .failure: .failure(FailureMessage(round: int(&rng), clientIndex: int(&rng), token: token(&rng), reason: string(&rng)))
        case .heartbeat: .heartbeat
        case .shutdown: .shutdown(ShutdownMessage(reason: string(&rng)))
        case .bye: .bye(ByeMessage(clients: ints(&rng)))
        case .model: .model(ModelMessage(round: int(&rng), parameters: floats(&rng)))
        case .reset: .reset(ResetMessage(reason: string(&rng)))
        case .evaluate: .evaluate(EvaluateMessage(round: int(&rng), clients: ints(&rng), config: metrics(&rng)))
        case .evalResult:
            .evalResult(EvalResultMessage(round: int(&rng), clientIndex: int(&rng), token: token(&rng), samples: int(&rng),
                                          metrics: metrics(&rng), error: string(&rng)))
        case .secAgg:
            .secAgg(SecAggMessage(round: int(&rng), clientIndex: int(&rng), stage: UInt8(1 + rng.nextInt(below: 4)),
                                  body: Array(string(&rng).utf8)))
        case .secAggReply:
            .secAggReply(SecAggReplyMessage(round: int(&rng), clientIndex: int(&rng), token: token(&rng),
                                            stage: UInt8(1 + rng.nextInt(below: 4)), body: Array(string(&rng).utf8)))
        }
    }

    @Test func randomMessagesRoundTrip() throws {
        var rng = RandomStream(seed: 77, purpose: .other, index: 2)
        var kinds: Set<Message.Kind> = []
        for _ in 0..<3_000 {
            let m = Self.message(&rng)
            kinds.insert(m.kind)
            let bytes = WireCodec.encode(m)
            #expect(bytes.count == WireCodec.encodedSize(m))
            let decoded = try WireCodec.decode(bytes)
            #expect(bitwiseEqual(decoded, m), "\(m)")
        }
        #expect(kinds == Set(Message.Kind.allCases))
    }
}
