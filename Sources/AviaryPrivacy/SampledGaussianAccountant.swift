#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rényi-DP accountant for the subsampled Gaussian mechanism: each round adds Gaussian noise of
/// σ = z × the sensitivity to a sum over the round's clients. Two sampling schemes (`Sampling`):
/// Poisson (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
/// Mechanism"; add-or-remove-one adjacency) and fixed-size without replacement (Wang, Balle &
/// Kasiviswanathan 2019; replace-one adjacency, `WithoutReplacementRDP`).
///
/// The RDP of one round is computed once per order (integer orders by the binomial sum of
/// their §3.3, fractional orders by the two-sided series with erfc), T rounds compose to T × that,
/// and (ε, δ) comes from the conversion of Canonne, Kamath & Steinke 2020 (Balle et al. 2020):
/// ε = min over α of RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1).
/// The computation follows Google's dp-accounting `RdpAccountant` step for step (its default
/// orders are `defaultOrders`); Tests/Python checks the two agree within 0.1 %.
public struct SampledGaussianAccountant: Sendable, Equatable {
    /// dp-accounting's `DEFAULT_RDP_ORDERS`: 1.1 … 10.9 in steps of 0.1, 11 … 63, 128 … 1024.
    public static let defaultOrders: [Double] =
        (1..<100).map { 1 + Double($0) / 10 } + (11..<64).map(Double.init) + [128, 256, 512, 1024]

    /// How each round's participants are drawn, and so which amplification bound applies.
    public enum Sampling: String, Sendable, Equatable, CaseIterable {
        /// Each client independently with probability q; add-or-remove-one adjacency
        /// (Mironov, Talwar & Zhang 2019).
        case poisson
        /// A uniformly random subset of fixed size q·N without replacement; replace-one adjacency
        /// (Wang, Balle & Kasiviswanathan 2019, Theorem 27: `WithoutReplacementRDP`).
        case withoutReplacement = "without-replacement"
    }

    public let samplingRate: Double
    public let noiseMultiplier: Double
    public let sampling: Sampling
    public let orders: [Double]
    /// RDP of one round at each order (may be +∞).
    public let rdpPerRound: [Double]

    /// q in [0, 1], z ≥ 0 (z = 0: no privacy, ε = ∞ unless q = 0). z is the noise std over the
    /// sensitivity under the scheme's adjacency (replace-one doubles a clipped sum's sensitivity).
    public init(samplingRate q: Double, noiseMultiplier z: Double, sampling: Sampling = .poisson, orders: [Double] = defaultOrders) {
        precondition((0...1).contains(q) && z >= 0 && orders.allSatisfy { $0 > 1 }, "q in [0,1], z ≥ 0, orders > 1")
        samplingRate = q
        noiseMultiplier = z
        self.sampling = sampling
        self.orders = orders
        switch sampling {
        case .poisson: rdpPerRound = orders.map { Self.rdp(q: q, sigma: z, order: $0) }
        case .withoutReplacement: rdpPerRound = orders.map { WithoutReplacementRDP.rdp(q: q, sigma: z, order: $0) }
        }
    }

    /// (ε, the order that attains it) after `rounds` rounds at `delta` in (0, 1).
    public func epsilon(rounds: Int, delta: Double) -> (epsilon: Double, order: Double) {
        precondition(rounds >= 0 && delta > 0 && delta < 1)
        var best = (epsilon: Double.infinity, order: orders.first ?? 0)
        let logDelta = log(delta)
        for (a, perRound) in zip(orders, rdpPerRound) {
            let r = perRound * Double(rounds)
            let e: Double
            if r.isNaN { continue }
            if r < 0 || delta * delta + expm1(-r) > 0 {
                e = 0  // the KL bound δ ≤ √(1 − e^−RDP) already gives ε = 0
            } else if a > 1.01 {
                e = r + log1p(-1 / a) - (logDelta + log(a)) / (a - 1)
            } else {
                e = .infinity
            }
            if e < best.epsilon { best = (e, a) }
        }
        return (Swift.max(0, best.epsilon), best.order)
    }

    /// The most rounds whose ε stays ≤ `target` (0 when even one round exceeds it), searched up
    /// to `limit`: ε grows with the rounds, so a binary search.
    public func roundsWithin(epsilon target: Double, delta: Double, limit: Int) -> Int {
        guard epsilon(rounds: 1, delta: delta).epsilon <= target else { return 0 }
        var lo = 1, hi = limit
        if epsilon(rounds: hi, delta: delta).epsilon <= target { return hi }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if epsilon(rounds: mid, delta: delta).epsilon <= target { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// RDP at `order` of one Poisson-sampled Gaussian round (dp-accounting's
    /// `_compute_rdp_poisson_subsampled_gaussian`).
    static func rdp(q: Double, sigma: Double, order a: Double) -> Double {
        if q == 0 { return 0 }
        if a.isInfinite || sigma == 0 { return .infinity }
        if q == 1 { return a / (2 * sigma * sigma) }
        let logA = a == a.rounded() ? logAInteger(q: q, sigma: sigma, order: Int(a)) : logAFraction(q: q, sigma: sigma, order: a)
        return logA / (a - 1)
    }

    /// log A_α for integer α: log Σ_k C(α,k) (1−q)^(α−k) q^k exp((k² − k)/2σ²).
    static func logAInteger(q: Double, sigma: Double, order a: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q), log1mq = log1p(-q), twoVar = 2 * sigma * sigma
        for i in 0...a {
            let k = Double(i)
            let coefficient = LogSpace.binomial(Double(a), k) + k * logQ + Double(a - i) * log1mq
            logA = LogSpace.add(logA, coefficient + (k * k - k) / twoVar)
        }
        return logA
    }

    /// log A_α for fractional α: the series split at z₀ = σ² log(1/q − 1) + ½, summed until both
    /// halves' terms fall and are e^−30 below the total (at most 1,000 terms; +∞ — the order is
    /// then left out — when it does not converge, as dp-accounting does).
    static func logAFraction(q: Double, sigma: Double, order a: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let logQ = log(q), log1mq = log1p(-q), twoVar = 2 * sigma * sigma, root2Sigma = 2.0.squareRoot() * sigma
        var lastS0 = -Double.infinity, lastS1 = -Double.infinity
        for step in 0..<1000 {
            let i = Double(step)
            let coefficient = LogSpace.binomial(a, i)
            let j = a - i
            let t0 = coefficient + i * logQ + j * log1mq
            let t1 = coefficient + j * logQ + i * log1mq
            let e0 = log(0.5) + LogSpace.erfcLog((i - z0) / root2Sigma)
            let e1 = log(0.5) + LogSpace.erfcLog((z0 - j) / root2Sigma)
            let s0 = t0 + (i * i - i) / twoVar + e0
            let s1 = t1 + (j * j - j) / twoVar + e1
            logA0 = LogSpace.add(logA0, s0)
            logA1 = LogSpace.add(logA1, s1)
            let total = LogSpace.add(logA0, logA1)
            if s0 < lastS0 && s1 < lastS1 && Swift.max(s0, s1) < total - 30 { return total }
            lastS0 = s0; lastS1 = s1
        }
        return .infinity
    }
}
