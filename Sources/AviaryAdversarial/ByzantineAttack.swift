#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import AviaryMath

/// What a Byzantine (attacker) client does to the update it sends. The attacker first trains
/// honestly (on flipped labels for `labelFlip`), then `apply` turns the honest delta into the
/// malicious one. Pure functions of their inputs: no I/O, no hidden state, so a client's
/// malicious update is as reproducible as an honest one. The server never sees this type.
public struct ByzantineAttack: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case none
        /// −scale · Δ.
        case signFlip = "sign_flip"
        /// scale · Δ (boosting).
        case scale
        /// N(0, noise_std²) in every coordinate, replacing Δ.
        case gaussian
        /// Data poisoning: trains on labels y → C − 1 − y and sends that honest-looking delta.
        case labelFlip = "label_flip"
        /// "A Little Is Enough" (Baruch et al., 2019): every colluding attacker sends μ − z·σ of
        /// the attackers' own honest deltas (coordinate-wise mean and standard deviation).
        case alie
        /// Inner-product manipulation (Xie, Koyejo & Gupta, UAI 2020, "Fall of Empires"): every
        /// colluding attacker sends −ε·μ, μ the mean of the attackers' own honest deltas, so the
        /// aggregate's inner product with the true update turns negative while, for small ε, the
        /// malicious updates stay close enough to pass median, trimmed mean and Krum.
        case ipm
    }

    public var kind: Kind
    /// Multiplier for `signFlip` and `scale`.
    public var scale: Float
    /// Standard deviation of `gaussian`'s noise.
    public var noiseStd: Float
    /// z of `alie`.
    public var alieZ: Float
    /// ε of `ipm`.
    public var ipmEpsilon: Float

    /// ε = 0.5: the value of Xie et al.'s experiments that defeats the median and Krum.
    public static let defaultIPMEpsilon: Float = 0.5

    enum CodingKeys: String, CodingKey { case kind, scale, noiseStd, alieZ, ipmEpsilon }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decode(Kind.self, forKey: .kind), scale: try c.decode(Float.self, forKey: .scale),
                  noiseStd: try c.decode(Float.self, forKey: .noiseStd), alieZ: try c.decode(Float.self, forKey: .alieZ),
                  ipmEpsilon: try c.decodeIfPresent(Float.self, forKey: .ipmEpsilon) ?? Self.defaultIPMEpsilon)
    }

    public init(kind: Kind, scale: Float = 1, noiseStd: Float = 1, alieZ: Float = 0, ipmEpsilon: Float = defaultIPMEpsilon) {
        self.kind = kind; self.scale = scale; self.noiseStd = noiseStd; self.alieZ = alieZ; self.ipmEpsilon = ipmEpsilon
    }

    /// `alie` and `ipm` need every colluding attacker's honest delta of the round before any can be sent.
    public var isCollusive: Bool { kind == .alie || kind == .ipm }

    /// The common update of a collusive attack from the colluders' honest deltas (ALIE or IPM);
    /// for another kind the deltas' first element, unchanged.
    public func colluding(_ deltas: [[Float]]) -> [Float] {
        switch kind {
        case .alie: Self.alie(deltas, z: alieZ)
        case .ipm: Self.ipm(deltas, epsilon: ipmEpsilon)
        default: deltas.first ?? []
        }
    }

    /// The default `scale` for a kind: a plain sign flip (−Δ), a tenfold boost.
    public static func defaultScale(for kind: Kind) -> Float { kind == .scale ? 10 : 1 }

    /// The malicious delta for one client from its honest `delta` (not for `alie`, which needs
    /// the whole colluding group: `colluding`). `noise` is the client's own seeded stream for
    /// the round, used by `gaussian` only.
    public func apply(to delta: [Float], noise: inout RandomStream) -> [Float] {
        switch kind {
        case .none, .labelFlip, .alie, .ipm: return delta
        case .signFlip: let s = -scale; return delta.map { $0 * s }
        case .scale: let s = scale; return delta.map { $0 * s }
        case .gaussian:
            let std = Double(noiseStd)
            return (0..<delta.count).map { _ in Float(noise.normal() * std) }
        }
    }

    /// The noise stream of client `client` in round `round`: its own, from the training seed,
    /// so the noise never depends on which process hosts the client or what else it trains.
    public static func noiseStream(trainingSeed: UInt64, client: Int, round: Int) -> RandomStream {
        RandomStream(seed: trainingSeed, purpose: .attack, index: (1 << 63) | UInt64(client) << 32 | UInt64(round))
    }

    /// ALIE's common update from the colluders' honest deltas (all the same length): μ − z·σ per
    /// coordinate, σ the population standard deviation (0 with a single colluder, which then
    /// sends its honest delta). Summed in Double in the given order, so the result depends only
    /// on the deltas and their order.
    public static func alie(_ deltas: [[Float]], z: Float) -> [Float] {
        guard let first = deltas.first else { return [] }
        let n = Double(deltas.count)
        var out = [Float](repeating: 0, count: first.count)
        for j in 0..<first.count {
            var sum = 0.0
            for d in deltas { sum += Double(d[j]) }
            let mean = sum / n
            var squares = 0.0
            for d in deltas { let e = Double(d[j]) - mean; squares += e * e }
            out[j] = Float(mean - Double(z) * (squares / n).squareRoot())
        }
        return out
    }

    /// IPM's common update: −ε · μ, μ the coordinate-wise mean of the colluders' honest deltas
    /// (summed in Double in the given order).
    public static func ipm(_ deltas: [[Float]], epsilon: Float) -> [Float] {
        guard let first = deltas.first else { return [] }
        let scale = -Double(epsilon) / Double(deltas.count)
        var sums = [Double](repeating: 0, count: first.count)
        for d in deltas { for j in 0..<first.count { sums[j] += Double(d[j]) } }
        return sums.map { Float($0 * scale) }
    }

    /// Baruch et al.'s z_max for n clients per round of which m collude: s = ⌊n/2 + 1⌋ − m
    /// honest clients must be won over, and z_max = Φ⁻¹((n − s)/n), the largest shift that keeps
    /// μ − zσ closer to the mean than s honest updates. nil when m ≥ ⌊n/2 + 1⌋ (no z is bounded).
    public static func alieZMax(clients n: Int, attackers m: Int) -> Double? {
        guard n >= 1, m >= 0 else { return nil }
        let s = (n / 2 + 1) - m
        guard s > 0 else { return nil }
        let z = inverseNormalCDF(Double(n - s) / Double(n))
        return abs(z) < 1e-9 ? 0 : z  // Φ⁻¹(1/2) is 0, not a bisection's -1e-14
    }

    /// Φ⁻¹(p) for p in (0, 1), by bisection on Φ(x) = erfc(−x/√2)/2 (to ~1e-12; used once per run).
    public static func inverseNormalCDF(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "Φ⁻¹ needs p in (0, 1)")
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if erfc(-mid / 2.0.squareRoot()) / 2 < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-13 { break }
        }
        return (lo + hi) / 2
    }

    /// Label flipping's training data: the same samples with label y → classes − 1 − y (a copy of
    /// this client's rows only, made when it trains).
    public static func flippingLabels(_ view: SampleView, classes: Int) -> SampleView {
        let labels = view.materialisedLabels().map { Int32(classes - 1) - $0 }
        return SampleView(features: view.materialisedFeatures(), labels: labels, width: view.width)
    }

    /// A short form for logs and the client's command line, e.g. `sign_flip scale=1`.
    public var summary: String {
        switch kind {
        case .none, .labelFlip: kind.rawValue
        case .signFlip, .scale: "\(kind.rawValue) scale=\(scale)"
        case .gaussian: "gaussian noise_std=\(noiseStd)"
        case .alie: "alie z=\(alieZ)"
        case .ipm: "ipm epsilon=\(ipmEpsilon)"
        }
    }
}
