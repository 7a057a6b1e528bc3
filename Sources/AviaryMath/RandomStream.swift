/// A seeded, deterministic pseudo-random stream (xoshiro256** seeded through SplitMix64).
///
/// Every random choice in Aviary takes its own stream: partition, sampling, init, shuffles,
/// attack starts. A stream is named by `(seed, purpose, index)`, so two streams never share
/// state and adding a consumer never shifts another's numbers. The sequence is fixed by the
/// algorithm here, not by the platform's `SystemRandomNumberGenerator`, so runs reproduce bit
/// for bit across machines.
public struct RandomStream: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// Box–Muller produces normals in pairs; the spare is kept so the sequence is deterministic.
    private var spareNormal: Double?

    /// Purposes are separate namespaces for the seed, so e.g. partition seed 1 and training
    /// seed 1 still give unrelated streams.
    public enum Purpose: UInt64, Sendable {
        case partition = 1, sampling = 2, initialisation = 3, shuffle = 4, attack = 5,
             synthetic = 6, evaluation = 7, featureSkew = 8, localSplit = 9, other = 10,
             dropout = 11, quantisation = 12, privacyNoise = 13
    }

    public init(seed: UInt64, purpose: Purpose = .other, index: UInt64 = 0) {
        var sm = SplitMix64(state: seed ^ (purpose.rawValue &* 0x9E37_79B9_7F4A_7C15))
        // Mix the index through a second SplitMix step so neighbouring indices decorrelate.
        var mixer = SplitMix64(state: sm.next() ^ (index &* 0xD1B5_4A32_D192_ED03))
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
        if (s0 | s1 | s2 | s3) == 0 { s0 = 1 }
        _ = sm
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = RandomStream.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = RandomStream.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [0, 1) with 24 random bits.
    @inlinable
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1.0p-24 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * nextDouble() }

    /// Uniform integer in 0..<bound without modulo bias (Lemire's method).
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Standard normal via Box–Muller (deterministic; the spare value is cached).
    public mutating func normal() -> Double {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u1 = nextDouble()
        while u1 <= .leastNormalMagnitude { u1 = nextDouble() }
        let u2 = nextDouble()
        let r = (-2.0 * libm_log(u1)).squareRoot()
        let theta = 2.0 * Double.pi * u2
        spareNormal = r * libm_sin(theta)
        return r * libm_cos(theta)
    }

    /// Normal with the given mean and standard deviation.
    public mutating func normal(mean: Double, std: Double) -> Double { mean + std * normal() }

    /// Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 uses the boost Gamma(shape+1)·U^(1/shape).
    /// Small shapes (Dirichlet α = 0.01) underflow to 0 in linear space, so callers that
    /// normalise should use `logGamma` instead.
    public mutating func gamma(shape: Double) -> Double { libm_exp(logGamma(shape: shape)) }

    /// log of a Gamma(shape, 1) draw, finite even when the draw itself underflows.
    public mutating func logGamma(shape: Double) -> Double {
        precondition(shape > 0 && shape.isFinite, "gamma shape must be positive and finite")
        if shape < 1 {
            let boosted = logGamma(shape: shape + 1)
            var u = nextDouble()
            while u <= .leastNormalMagnitude { u = nextDouble() }
            return boosted + libm_log(u) / shape
        }
        let d = shape - 1.0 / 3.0
        let c = 1.0 / (9.0 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = nextDouble()
            if u < 1 - 0.0331 * x * x * x * x { return libm_log(d * v) }
            if libm_log(u) < 0.5 * x * x + d * (1 - v + libm_log(v)) { return libm_log(d * v) }
        }
    }

    /// A draw from Dir(alphas), computed in log space so tiny α never yields NaN.
    public mutating func dirichlet(_ alphas: [Double]) -> [Double] {
        let logs = alphas.map { logGamma(shape: $0) }
        let m = logs.max() ?? 0
        let e = logs.map { libm_exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Fisher–Yates shuffle driven by this stream (the standard library's shuffle algorithm is
    /// not specified, so it is not used where bitwise reproducibility matters).
    @inlinable
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A random permutation of 0..<n.
    @inlinable
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}

/// SplitMix64, used only to expand a seed into xoshiro state.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
