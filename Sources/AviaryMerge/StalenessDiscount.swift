import Foundation

/// How much an update computed on an older model counts in buffered aggregation, as a function
/// of its staleness s = (server version when it is applied) − (version it trained on). The three
/// rules of FedAsync (Xie, Koyejo & Gupta 2019, section 5.2); FedBuff (Nguyen et al. 2022) uses
/// the polynomial rule with a = 0.5. Pure; `factor` is in (0, 1] and 1 at s = 0.
public enum StalenessDiscount: Sendable, Hashable {
    /// 1 whatever the staleness.
    case constant
    /// (1 + s)^(−a), a ≥ 0.
    case polynomial(a: Double)
    /// 1 while s ≤ b, then 1 / (a·(s − b) + 1); a ≥ 0, b ≥ 0.
    case hinge(a: Double, b: Double)

    /// The spelling `[server] staleness` takes and the log records.
    public var name: String {
        switch self {
        case .constant: "constant"
        case .polynomial: "polynomial"
        case .hinge: "hinge"
        }
    }

    public func factor(staleness s: Int) -> Double {
        precondition(s >= 0, "staleness is a version difference, never negative")
        let x = Double(s)
        switch self {
        case .constant: return 1
        case let .polynomial(a): return pow(1 + x, -a)
        case let .hinge(a, b): return x <= b ? 1 : 1 / (a * (x - b) + 1)
        }
    }

    /// What is wrong with a parameter, by its key (`staleness_a`, `staleness_b`), or nil: both
    /// must be finite and ≥ 0, so every factor lies in (0, 1] and falls as s grows.
    public var parameterProblem: (key: String, value: Double, expected: String)? {
        func check(_ key: String, _ v: Double) -> (String, Double, String)? {
            v.isFinite && v >= 0 ? nil : (key, v, "a finite number ≥ 0 (a negative exponent or slope would weigh stale updates above fresh ones)")
        }
        switch self {
        case .constant: return nil
        case let .polynomial(a): return check("staleness_a", a)
        case let .hinge(a, b): return check("staleness_a", a) ?? check("staleness_b", b)
        }
    }
}

/// Staleness-aware weights for one server update of buffered aggregation (pure).
public enum BufferedWeights {
    /// `base` are the strategy's weights over the buffer's updates (MWA's softmax of the metric,
    /// FedAvg's sample shares, uniform), which `aggregate` already normalises to sum to 1 over the
    /// buffer; each is multiplied by its update's discount. The discounted products are not
    /// renormalised a second time: the share a stale update loses stays with the current model
    /// (FedAsync's mixing, FedBuff's scaled delta, and the sync "stale" policy alike). A second
    /// renormalisation would cancel the discount whenever every update in the buffer is equally
    /// stale, and always for K = 1, which is FedAsync.
    public static func apply(base: [Int: Double], discounts: [Int: Double]) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for (client, w) in base { out[client] = w * (discounts[client] ?? 1) }
        return out
    }
}
