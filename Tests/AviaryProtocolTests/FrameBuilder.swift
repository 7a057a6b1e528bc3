import AviaryProtocol

/// Hand-assembles frames for tests, independently of `WireWriter`, with a bitwise reference
/// CRC-32 (IEEE, reflected, poly 0xEDB88320) so the codec's zlib-backed CRC is checked too.
struct FrameBuilder {
    var bytes: [UInt8]

    init(kind: UInt8, version: UInt16 = protocolVersion, flags: UInt8 = 0, magic: [UInt8] = Array("AVRY".utf8)) {
        bytes = magic
        bytes += [UInt8(version & 0xFF), UInt8(version >> 8), kind, flags]
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func i64(_ v: Int64) { bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func u64(_ v: UInt64) { bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func int(_ v: Int) { i64(Int64(v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func f32(_ v: Float) { bytes += (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    mutating func string(_ s: String) { i64(Int64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func rawString(_ b: [UInt8]) { i64(Int64(b.count)); bytes += b }
    /// `opt-int`: tag 0, or tag 1 and the value.
    mutating func optionalInt(_ v: Int?) { if let v { u8(1); int(v) } else { u8(0) } }
    /// `int[]`: count, then one i64 each.
    mutating func ints(_ v: [Int]) { int(v.count); for x in v { int(x) } }
    /// `f32[]`: count, then the raw floats.
    mutating func floats(_ v: [Float]) { int(v.count); for x in v { f32(x) } }

    /// The frame with its CRC trailer appended.
    func sealed() -> [UInt8] {
        let crc = FrameBuilder.referenceCRC32(bytes)
        return bytes + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
    }

    static func referenceCRC32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// Recomputes the trailer of an existing frame (fuzzing past the CRC check).
    static func resealed(_ frame: [UInt8]) -> [UInt8] {
        guard frame.count >= 4 else { return frame }
        let body = Array(frame.dropLast(4))
        let crc = referenceCRC32(body)
        return body + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
    }
}

/// Messages of every kind, with awkward contents (unicode, empty lists and vectors, extreme
/// integers and tokens, NaN-carrying floats and doubles).
enum SampleMessages {
    static let nanPayload = Float(bitPattern: 0x7FC0_1234)  // quiet NaN with a payload
    static let signallingNaN = Float(bitPattern: 0x7F80_0001)
    static let doubleNaNPayload = Double(bitPattern: 0x7FF8_0000_DEAD_BEEF)

    static var all: [Message] {
        [
            .hello(HelloMessage(processName: "proc-0", claims: [
                ClientClaim(index: 3), ClientClaim(index: nil),
                ClientClaim(index: 7, token: 0xDEAD_BEEF_CAFE_F00D), ClientClaim(index: nil, token: .max),
            ])),
            .hello(HelloMessage(processName: "", claims: [])),
            .hello(HelloMessage(processName: "Zürich-鳥-🐦", claims: [ClientClaim(index: -1, token: 1),
                                                                       ClientClaim(index: .max), ClientClaim(index: .min)])),
            .welcome(WelcomeMessage(
                accepted: [.init(index: 0, token: 1), .init(index: 5, token: .max), .init(index: Int.max, token: 0)],
                refused: [.init(reason: .stated("held by a live process"), retry: true, claims: 3, indices: [3...3, 9...10]),
                          .init(reason: .stated("run full: 0 free slots — réessayez"), retry: false, claims: 1, indices: [])],
                heartbeatInterval: 2.5, liveness: 3, runSpec: Array("{\"model\":\"mlp\"}".utf8))),
            .welcome(WelcomeMessage(accepted: [], refused: [], heartbeatInterval: -0.0, liveness: 0, runSpec: [])),
            .welcome(WelcomeMessage(accepted: [], refused: [.init(reason: .stated(""), retry: true, claims: .max, indices: [-7...(-7), 0...Int.max])],
                                    heartbeatInterval: doubleNaNPayload, liveness: .min, runSpec: [0, 0xFF, 0x80])),
            .reject(RejectMessage(reason: "protocol version 1 is not supported")),
            .train(TrainMessage(round: 1, clients: [0, 5, Int.max, -1, Int.min],
                                config: ["lr": 0.05, "epochs": 1, "ε": doubleNaNPayload])),
            .train(TrainMessage(round: 0, clients: [], config: [:])),
            .update(UpdateMessage(round: 4, clientIndex: 2, token: 0x0123_4567_89AB_CDEF, samples: 6000,
                                  metrics: ["train_loss": 0.42, "adv_loss": .nan, "ε": -1e300],
                                  delta: [nanPayload, signallingNaN, .greatestFiniteMagnitude, .leastNonzeroMagnitude])),
            .update(UpdateMessage(round: Int.max, clientIndex: Int.min, token: .max, samples: 0, metrics: [:], delta: [])),
            .update(UpdateMessage(round: 3, clientIndex: 1, samples: 10, metrics: [:], payload: .f16([0x3C00, 0xFC00, 0x7E01, 0]))),
            .update(UpdateMessage(round: 3, clientIndex: 1, samples: 10, metrics: [:],
                                  payload: .int8(scales: [0.5, 0], values: [127, -127, 0, -128]))),
            .update(UpdateMessage(round: 3, clientIndex: 1, samples: 10, metrics: [:],
                                  payload: .topk(length: 1 << 40, indices: [7, 3, .max], values: [1, -2]))),
            .failure(FailureMessage(round: 9, clientIndex: 1, token: 42, reason: "loss diverged (NaN) at step 17")),
            .failure(FailureMessage(round: -1, clientIndex: 0, reason: "")),
            .heartbeat,
            .shutdown(ShutdownMessage(reason: "run complete")),
            .bye(ByeMessage(clients: [5])),
            .bye(ByeMessage(clients: [])),
            .bye(ByeMessage(clients: [0, 1, 2, Int.max, Int.min])),
            .model(ModelMessage(round: 1, parameters: [1.5, -2, 0, .infinity, -0.0, nanPayload, signallingNaN])),
            .model(ModelMessage(round: 0, parameters: [])),
            .reset(ResetMessage(reason: "unknown connection: the server restarted; say HELLO again")),
            .reset(ResetMessage(reason: "")),
            .hello(HelloMessage(processName: "evaluator", role: .evaluator, claims: [])),
            .evaluate(EvaluateMessage(round: 4, clients: [0, 5, Int.max, -1], config: ["ε": doubleNaNPayload])),
            .evaluate(EvaluateMessage(round: Int.max, clients: [], config: [:])),
            .evalResult(EvalResultMessage(round: 4, clientIndex: -1, token: .max, samples: 10000,
                                          metrics: ["loss": .nan, "accuracy": -.infinity], error: "")),
            .evalResult(EvalResultMessage(round: Int.min, clientIndex: Int.max, token: 0, samples: -1, metrics: [:],
                                          error: "evaluate raised: Zürich-鳥")),
            .secAgg(SecAggMessage(round: 3, clientIndex: 0, stage: 1, body: Array(0...255))),
            .secAgg(SecAggMessage(round: Int.max, clientIndex: -1, stage: 4, body: [])),
            .secAggReply(SecAggReplyMessage(round: 3, clientIndex: 5, token: .max, stage: 3, body: [0xFF, 0, 0xFF, 0])),
        ]
    }
}

/// Equality that compares floats and doubles by bit pattern (NaN != NaN under `==`).
func bitwiseEqual(_ a: Message, _ b: Message) -> Bool {
    func same(_ x: [Float], _ y: [Float]) -> Bool { x.map(\.bitPattern) == y.map(\.bitPattern) }
    func same(_ x: [String: Double], _ y: [String: Double]) -> Bool { x.mapValues(\.bitPattern) == y.mapValues(\.bitPattern) }
    switch (a, b) {
    case (.welcome(let x), .welcome(let y)):
        return x.accepted == y.accepted && x.refused == y.refused && x.liveness == y.liveness
            && x.runSpec == y.runSpec && x.heartbeatInterval.bitPattern == y.heartbeatInterval.bitPattern
    case (.train(let x), .train(let y)):
        return x.round == y.round && x.clients == y.clients && same(x.config, y.config)
    case (.update(let x), .update(let y)):
        return x.round == y.round && x.clientIndex == y.clientIndex && x.token == y.token && x.samples == y.samples
            && same(x.metrics, y.metrics) && x.payload.tag == y.payload.tag
            && (x.payload.tag == 0 ? same(x.payload.f32Values ?? [], y.payload.f32Values ?? []) : x.payload == y.payload)
    case (.model(let x), .model(let y)):
        return x.round == y.round && same(x.parameters, y.parameters)
    case (.evaluate(let x), .evaluate(let y)):
        return x.round == y.round && x.clients == y.clients && same(x.config, y.config)
    case (.evalResult(let x), .evalResult(let y)):
        return x.round == y.round && x.clientIndex == y.clientIndex && x.token == y.token && x.samples == y.samples
            && same(x.metrics, y.metrics) && x.error == y.error
    default:
        return a == b
    }
}
