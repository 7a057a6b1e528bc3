#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Arithmetic on numbers kept as their logarithms, so the RDP sums of the accountant never
/// overflow (exp((i² − i)/2σ²) passes Double's range long before order 1024). The formulas are
/// the ones Google's dp-accounting uses, so the two agree to rounding.
enum LogSpace {
    /// log(e^x + e^y).
    static func add(_ x: Double, _ y: Double) -> Double {
        let a = Swift.min(x, y), b = Swift.max(x, y)
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// (sign, log |e^x − e^y|): sign true when e^x ≥ e^y; equal inputs give (true, −∞).
    static func subtract(_ x: Double, _ y: Double) -> (positive: Bool, magnitude: Double) {
        if x > y { return (true, x + log1p(-exp(y - x))) }
        if x < y { return (false, y + log1p(-exp(x - y))) }
        return (true, -.infinity)
    }

    /// log C(n, k) for real n ≥ k ≥ 0 through log Γ.
    static func binomial(_ n: Double, _ k: Double) -> Double {
        logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
    }

    /// log Γ(x) for x > 0 (lgamma_r: the sign output keeps it free of the global `signgam`).
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// log erfc(x), finite where erfc underflows (x ≳ 26): there the asymptotic (Laurent) series
    /// of the tail, as dp-accounting's fallback.
    static func erfcLog(_ x: Double) -> Double {
        let r = erfc(x)
        if r > 1e-300 { return log(r) }
        let x2 = x * x
        return -log(Double.pi) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2)
            - 37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
    }
}
