import AviaryProtocol

/// Hand-assembles frames for tests, independently of `WireWriter`, with a bitwise reference
/// CRC-32 (IEEE, reflected, poly 0xEDB88320) so the codec's zlib-backed CRC is checked too.
struct FrameBuilder {
    var bytes: [UInt8]

    init(kind: UInt8, version: UInt16 = 1, flags: UInt8 = 0, magic: [UInt8] = Array("AVRY".utf8)) {
        bytes = magic
        bytes += [UInt8(version & 0xFF), UInt8(version >> 8), kind, flags]
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func i64(_ v: Int64) { bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func f64(_ v: Double) { i64(Int64(bitPattern: v.bitPattern)) }
    mutating func f32(_ v: Float) { bytes += (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    mutating func string(_ s: String) { i64(Int64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func rawString(_ b: [UInt8]) { i64(Int64(b.count)); bytes += b }

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

/// One message of every kind, with awkward contents (unicode, empty and NaN-carrying vectors).
enum SampleMessages {
    static let nanPayload = Float(bitPattern: 0x7FC0_1234)  // quiet NaN with a payload
    static let signallingNaN = Float(bitPattern: 0x7F80_0001)

    static var all: [Message] {
        [
            .hello(Hello(clientName: "client-0", requestedIndex: 3)),
            .hello(Hello(clientName: "", requestedIndex: nil)),
            .hello(Hello(clientName: "Zürich-鳥-🐦", requestedIndex: -1)),
            .welcome(Welcome(clientIndex: 7, runSpec: Array("{\"model\":\"mlp\"}".utf8))),
            .welcome(Welcome(clientIndex: 0, runSpec: [])),
            .reject(Reject(reason: "index 3 is taken; pick another or omit it")),
            .task(Task(round: 1, parameters: [1.5, -2, 0, .infinity, -0.0], config: ["lr": 0.05, "epochs": 1])),
            .task(Task(round: 0, parameters: [], config: [:])),
            .update(Update(round: 4, clientIndex: 2, samples: 6000,
                           metrics: ["train_loss": 0.42, "adv_loss": .nan, "ε": -1e300],
                           delta: [nanPayload, signallingNaN, .greatestFiniteMagnitude, .leastNonzeroMagnitude])),
            .update(Update(round: Int.max, clientIndex: Int.min, samples: 0, metrics: [:], delta: [])),
            .failure(Failure(round: 9, clientIndex: 1, reason: "loss diverged (NaN) at step 17")),
            .heartbeat(Heartbeat()),
            .shutdown(Shutdown(reason: "run complete")),
            .bye(Bye(clientIndex: 5)),
        ]
    }
}

/// Equality that compares floats and doubles by bit pattern (NaN != NaN under `==`).
func bitwiseEqual(_ a: Message, _ b: Message) -> Bool {
    func same(_ x: [Float], _ y: [Float]) -> Bool { x.map(\.bitPattern) == y.map(\.bitPattern) }
    func same(_ x: [String: Double], _ y: [String: Double]) -> Bool { x.mapValues(\.bitPattern) == y.mapValues(\.bitPattern) }
    switch (a, b) {
    case (.task(let x), .task(let y)):
        return x.round == y.round && same(x.parameters, y.parameters) && same(x.config, y.config)
    case (.update(let x), .update(let y)):
        return x.round == y.round && x.clientIndex == y.clientIndex && x.samples == y.samples
            && same(x.metrics, y.metrics) && same(x.delta, y.delta)
    default:
        return a == b
    }
}
