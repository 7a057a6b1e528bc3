#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RDP of the Gaussian mechanism on a uniformly random subset of fixed size m = q·N, drawn
/// without replacement, under replace-one adjacency (N is public): Wang, Balle & Kasiviswanathan,
/// "Subsampled Rényi Differential Privacy and Analytical Moments Accountant", AISTATS 2019,
/// Theorem 27 (the tighter form for a base mechanism whose CGF is known). `sigma` is the noise
/// std over the replace-one sensitivity. Same bound and same numerics as Google's dp-accounting
/// (`SampledWithoutReplacementDpEvent` in its `RdpAccountant`): integer orders exactly up to
/// order 256 (above it, each term's forward difference is bounded by 2·e^{cgf}), fractional
/// orders by interpolating the CGF between the neighbouring integers (their Corollary 10).
enum WithoutReplacementRDP {
    /// Orders above this use the cheap O(α) bound instead of the O(α²) forward differences.
    static let exactOrderLimit = 256

    /// RDP at order `a` of one round.
    static func rdp(q: Double, sigma: Double, order a: Double) -> Double {
        if q == 0 { return 0 }
        if a.isInfinite || sigma == 0 { return .infinity }
        if q == 1 { return a / (2 * sigma * sigma) }
        if a == a.rounded() { return logMoment(q: q, sigma: sigma, order: Int(a)) / (a - 1) }
        // The CGF (α − 1)·RDP(α) is convex in α, so the chord between ⌊α⌋ and ⌈α⌉ bounds it.
        let lo = a.rounded(.down), t = a - lo
        let x = logMoment(q: q, sigma: sigma, order: Int(lo))
        let y = logMoment(q: q, sigma: sigma, order: Int(lo) + 1)
        return ((1 - t) * x + t * y) / (a - 1)
    }

    /// (α − 1)·RDP(α) for integer α ≥ 1: log of Theorem 27's sum
    /// 1 + Σ_{j≥2} C(α, j) q^j · B_j, with B_2 = min(4(e^{ε(2)} − 1), 2e^{ε(2)}) and, for j ≥ 3,
    /// B_j = min(4·√(Δ_{2⌊j/2⌋} Δ_{2⌈j/2⌉}) (Δ_i: i-th forward difference of e^{cgf} at 0, as
    /// indexed below), 2e^{cgf(j−1)}), where the Gaussian's cgf(x) = x(x+1)/(2σ²), ε(x) = x/(2σ²).
    static func logMoment(q: Double, sigma: Double, order a: Int) -> Double {
        if a <= 1 { return 0 }
        let twoVar = 2 * sigma * sigma
        func cgf(_ x: Double) -> Double { x * (x + 1) / twoVar }
        let eps2 = 2 / twoVar
        let logQ = log(q), log2 = log(2.0), log4 = log(4.0)
        let second = 2 * logQ + LogSpace.binomial(Double(a), 2) + Swift.min(log4 + eps2 + log1p(-exp(-eps2)), eps2 + log2)
        var total = LogSpace.add(0, second)
        guard a > 2 else { return total }
        let diffs = a <= exactOrderLimit ? forwardDifferences(cgf, count: a) : []
        for j in 3...a {
            var s = log2 + cgf(Double(j - 1))
            if !diffs.isEmpty {
                let lo = diffs[2 * (j / 2) - 1], hi = diffs[2 * ((j + 1) / 2) - 1]
                s = Swift.min(log4 + 0.5 * (lo + hi), s)
            }
            total = LogSpace.add(total, s + Double(j) * logQ + LogSpace.binomial(Double(a), Double(j)))
        }
        return total
    }

    /// log |k-th forward difference| for k = 0 … count + 1 of the sequence (1, e^{f(0)}, e^{f(1)},
    /// …, e^{f(count)}) at its start, in log magnitude with a sign, so the cancellations of
    /// large exponentials stay exact (dp-accounting's `_get_forward_diffs`). Entry k − 1 holds the
    /// k-th difference.
    static func forwardDifferences(_ f: (Double) -> Double, count n: Int) -> [Double] {
        var value = [0.0] + (0...n + 1).map { f(Double($0)) }
        var positive = [Bool](repeating: true, count: n + 3)
        var result = [Double](repeating: 0, count: n + 2)
        for k in 0...n + 1 {
            // value[j] ← value[j + 1] − value[j] for j < n + 2 − k, signed.
            for j in 0..<(n + 2 - k) {
                if positive[j] == positive[j + 1] {
                    let (sign, magnitude) = LogSpace.subtract(value[j + 1], value[j])
                    value[j] = magnitude
                    positive[j] = positive[j + 1] ? sign : !sign
                } else {
                    value[j] = LogSpace.add(value[j], value[j + 1])
                    positive[j] = positive[j + 1]
                }
            }
            result[k] = value[0]
        }
        return result
    }
}
