import AviaryMath

/// How UPDATE deltas travel, fixed for a run by the topology's `[compression]` section and sent
/// to every client in the WELCOME run spec (docs/PROTOCOL.md, "Delta encodings").
///
/// - `f32`: the delta as it is (lossless, the default).
/// - `f16`: IEEE binary16, round-to-nearest-even; |x| > 65504 is clamped to ±65504 (counted).
/// - `int8`: per tensor, scale = max|x| / 127 and q = round-half-to-even(x / scale) in −127…127.
/// - `topk`: the k = ⌈fraction · n⌉ largest |x| of the whole vector (ties: lower index first) as
///   (index, f32 value) pairs, with client-side error feedback.
public enum DeltaEncoding: Sendable, Hashable, Codable, CustomStringConvertible {
    case f32
    case f16
    case int8
    case topk(fraction: Double)

    /// The byte that names the encoding on the wire, in front of the payload.
    public var tag: UInt8 {
        switch self {
        case .f32: 0
        case .f16: 1
        case .int8: 2
        case .topk: 3
        }
    }

    /// The topology's name for it: "f32", "f16", "int8", "topk".
    public var name: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .int8: "int8"
        case .topk: "topk"
        }
    }

    /// "topk(0.01)" for top-k, else the name.
    public var description: String {
        if case let .topk(fraction) = self { return "topk(\(fraction))" }
        return name
    }

    /// Whether the client keeps a residual (what it did not send) and adds it to its next delta:
    /// always for top-k, for f16 and int8 when `options` asks for error feedback.
    public func usesErrorFeedback(_ options: QuantisationOptions?) -> Bool {
        switch self {
        case .topk: true
        case .f16, .int8: options?.errorFeedback == true
        case .f32: false
        }
    }

    /// Top-k's k for a vector of `count` values: ⌈fraction · count⌉, at least 1 (for a non-empty
    /// vector), at most `count`. The same on both sides, so the server can require exactly k.
    public static func topkCount(fraction: Double, count: Int) -> Int {
        guard count > 0 else { return 0 }
        let k = (fraction * Double(count)).rounded(.up)
        guard k.isFinite, k >= 1 else { return 1 }
        return k >= Double(count) ? count : Int(k)
    }

    /// Exact bytes of an UPDATE's delta field in this encoding (tag included) for a model whose
    /// tensors have `tensorSizes` elements. Pure; what transfer-time models should use. A whole
    /// UPDATE frame adds 44 bytes (header, round, client, token, samples, CRC) plus its metrics
    /// map (`WireCodec.encodedSize(_:)` gives a concrete message's size).
    public func encodedSize(tensorSizes: [Int]) -> Int {
        let n = tensorSizes.reduce(0, +)
        switch self {
        case .f32: return 1 + 8 + 4 * n
        case .f16: return 1 + 8 + 2 * n
        case .int8: return 1 + (8 + 4 * tensorSizes.count) + (8 + n)
        case let .topk(fraction):
            let k = Self.topkCount(fraction: fraction, count: n)
            return 1 + 8 + (8 + 4 * k) + (8 + 4 * k)
        }
    }
}

/// How a client quantises f16 and int8 deltas (`[compression] rounding`, `error_feedback`). Not on
/// the wire: the server decodes every payload alike. Travels in the run spec.
public struct QuantisationOptions: Codable, Sendable, Hashable {
    /// int8's rounding of x/scale: `nearest` (half to even; the default, biased per coordinate)
    /// or `stochastic` (unbiased, from the client's own seeded stream for the round).
    public enum Rounding: String, Codable, Sendable, CaseIterable { case nearest, stochastic }
    public var rounding: Rounding
    /// f16 and int8: keep what the encoding lost and add it to the next round's delta.
    public var errorFeedback: Bool

    public init(rounding: Rounding = .nearest, errorFeedback: Bool = false) {
        self.rounding = rounding; self.errorFeedback = errorFeedback
    }

    /// The stream stochastic rounding draws from for `client` in `round`: a pure function of the
    /// training seed, the client and the round, so training a round again (a re-sent TRAIN, a
    /// resumed server) rounds the same way, whichever process hosts the client.
    public static func roundingStream(trainingSeed: UInt64, client: Int, round: Int) -> RandomStream {
        RandomStream(seed: trainingSeed, purpose: .quantisation, index: UInt64(client) << 32 | UInt64(UInt32(truncatingIfNeeded: round)))
    }
}

/// The encoding and the model's tensor sizes: all a codec needs to encode a delta or to check
/// a received one against the model (never against sizes from the wire).
public struct DeltaFormat: Sendable, Hashable {
    public var encoding: DeltaEncoding
    /// Elements per tensor, in parameter-vector order (int8 keeps one scale per tensor).
    public var tensorSizes: [Int]
    /// Total parameters: the dense delta's length.
    public let parameterCount: Int

    public init(encoding: DeltaEncoding, tensorSizes: [Int]) {
        precondition(tensorSizes.allSatisfy { $0 >= 0 }, "tensor sizes are non-negative")
        self.encoding = encoding
        self.tensorSizes = tensorSizes
        parameterCount = tensorSizes.reduce(0, +)
    }

    /// Lossless f32 over one tensor of `parameterCount` values (what a run without
    /// `[compression]` uses).
    public static func f32(parameterCount: Int) -> DeltaFormat {
        DeltaFormat(encoding: .f32, tensorSizes: [parameterCount])
    }

    /// Exact bytes of the UPDATE's delta field (see `DeltaEncoding.encodedSize(tensorSizes:)`).
    public var encodedSize: Int { encoding.encodedSize(tensorSizes: tensorSizes) }

    /// Top-k's k for this model (0 for the other encodings).
    public var topkCount: Int {
        if case let .topk(fraction) = encoding { return DeltaEncoding.topkCount(fraction: fraction, count: parameterCount) }
        return 0
    }
}

/// A delta as it travels in UPDATE: one case per encoding. The codec only checks that its
/// counts fit in the frame; `DeltaCodec.decode(_:format:)` checks it against the model.
public enum DeltaPayload: Sendable, Equatable {
    case f32([Float])
    /// IEEE binary16 bit patterns.
    case f16([UInt16])
    /// One scale per tensor, one signed byte per parameter.
    case int8(scales: [Float], values: [Int8])
    /// The dense length, then the kept indices (strictly increasing) and their values.
    case topk(length: Int, indices: [UInt32], values: [Float])

    /// The values of an f32 payload; nil for an encoded one (decode it with `DeltaCodec.decode`).
    public var f32Values: [Float]? { if case let .f32(v) = self { v } else { nil } }

    /// The encoding this payload claims (top-k's fraction is not on the wire; 0 here).
    public var tag: UInt8 {
        switch self {
        case .f32: 0
        case .f16: 1
        case .int8: 2
        case .topk: 3
        }
    }

    public var encodingName: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .int8: "int8"
        case .topk: "topk"
        }
    }
}
