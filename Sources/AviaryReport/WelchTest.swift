import Foundation

/// Welch's two-sample t-test on seed means, for the results' "is this more than seed noise"
/// sentence. With 3 seeds per side the test has ~4 degrees of freedom, so only large, consistent
/// differences count; saying so is the point.
public struct WelchTest: Sendable, Equatable {
    public var difference: Double
    public var t: Double
    /// Welch–Satterthwaite degrees of freedom, fractional as computed (not rounded down: the
    /// p-value comes from the t distribution at exactly this df).
    public var degreesOfFreedom: Double
    /// Two-sided p-value: P(|T| ≥ |t|) for Student's t with `degreesOfFreedom`.
    public var p: Double

    /// nil when either side has fewer than two values or both have zero spread.
    public init?(_ a: MeanStd, _ b: MeanStd) {
        guard let sa = a.std, let sb = b.std else { return nil }
        let va = sa * sa / Double(a.count), vb = sb * sb / Double(b.count)
        guard va + vb > 0 else { return nil }
        difference = a.mean - b.mean
        t = difference / (va + vb).squareRoot()
        let df = (va + vb) * (va + vb) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        degreesOfFreedom = df
        p = StudentT.twoSidedP(t: t, degreesOfFreedom: df)
    }

    /// Unadjusted, at 5 %. A study tests several settings against one baseline, so the results
    /// document decides on Holm-adjusted p-values (`HolmBonferroni`) instead.
    public var significant: Bool { p < 0.05 }
}

/// Holm–Bonferroni step-down adjustment of m p-values (one family: the settings of one study
/// compared with its baseline). Controls the family-wise error rate at the level without
/// assuming independence; uniformly more powerful than plain Bonferroni.
public enum HolmBonferroni {
    /// Adjusted p-values in the order of `p`: sorted ascending, the i-th (from 0) becomes
    /// min(1, max over j ≤ i of (m − j)·p₍ⱼ₎). A setting is significant at α when its adjusted p < α.
    public static func adjust(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            adjusted[i] = running
        }
        return adjusted
    }
}

/// Student's t distribution through the regularised incomplete beta function.
public enum StudentT {
    /// P(|T| ≥ |t|) with ν degrees of freedom (ν > 0, fractional allowed): I_{ν/(ν+t²)}(ν/2, 1/2).
    public static func twoSidedP(t: Double, degreesOfFreedom nu: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? .nan : 0 }
        guard nu > 0, nu.isFinite else { return .nan }
        return regularizedIncompleteBeta(x: nu / (nu + t * t), a: nu / 2, b: 0.5)
    }

    /// I_x(a, b) for a, b > 0 and x in [0, 1], by the continued fraction of Numerical Recipes
    /// §6.4 (modified Lentz), on the side of the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) where it
    /// converges fast. Relative accuracy ~1e-12 for the arguments a results table meets.
    public static func regularizedIncompleteBeta(x: Double, a: Double, b: Double) -> Double {
        precondition(a > 0 && b > 0, "incomplete beta needs a, b > 0")
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        let front = exp(logFront)
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - front * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300, epsilon = 1e-15
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0, d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }
}

/// The paired t-test: the same runs measured two ways (a weighted and the uniform merge of one
/// run's checkpoints), tested on the per-run differences, df = n − 1.
public struct PairedTTest: Sendable, Equatable {
    public var difference: Double
    public var t: Double
    public var degreesOfFreedom: Double
    public var p: Double

    /// nil with fewer than two pairs, unequal counts, or differences without spread (all equal).
    public init?(_ a: [Double], _ b: [Double]) {
        guard a.count == b.count, a.count >= 2 else { return nil }
        guard let d = MeanStd(zip(a, b).map { $0 - $1 }), d.count == a.count, let se = d.standardError, se > 0 else { return nil }
        difference = d.mean
        t = d.mean / se
        degreesOfFreedom = Double(d.count - 1)
        p = StudentT.twoSidedP(t: t, degreesOfFreedom: degreesOfFreedom)
    }
}
