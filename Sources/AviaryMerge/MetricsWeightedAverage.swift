#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether smaller or larger metric values deserve more weight.
public enum MetricKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// Lower is better (losses): weight ∝ m^(−p).
    case loss
    /// Higher is better (steps, samples): weight ∝ m^p.
    case progress
}

/// The metric an MWA merge weights by; raw values are the metric keys clients report.
public enum MWAMetric: String, Codable, Sendable, Hashable, CaseIterable {
    case trainLoss = "train_loss", advLoss = "adv_loss", valLoss = "val_loss"
    case steps = "local_steps", samples = "samples"

    /// Loss-type metrics get weight m^(−p); progress-type get m^p.
    public var isLossType: Bool { kind == .loss }

    /// The direction of the metric.
    public var kind: MetricKind {
        switch self {
        case .trainLoss, .advLoss, .valLoss: return .loss
        case .steps, .samples: return .progress
        }
    }
}

/// Configuration of metrics-weighted averaging.
public struct MWAConfig: Codable, Sendable, Hashable {
    /// Which reported metric sets the weights.
    public var metric: MWAMetric
    /// The penalty p in 0…10; 0 is the uniform average, larger p concentrates weight.
    public var penalty: Double
    /// Multiply each MWA weight by the client's sample count and renormalise (MWA × FedAvg).
    public var combineWithSamples: Bool
    /// What a round does with updates that lack the metric (e.g. `adv_loss` from a clean client).
    public var missingMetric: MissingMetricPolicy

    public init(metric: MWAMetric, penalty: Double, combineWithSamples: Bool = false,
                missingMetric: MissingMetricPolicy = .refuse) {
        self.metric = metric
        self.penalty = penalty
        self.combineWithSamples = combineWithSamples
        self.missingMetric = missingMetric
    }

    /// Throws `MergeConfigError.penaltyOutOfRange` unless p is finite and in 0…10.
    public func validate() throws {
        try MetricsWeightedAverage.validatePenalty(penalty)
    }
}

/// MWA's policy for updates without its metric (`[merge] missing_metric`). Only a missing
/// metric is covered: a metric that is present but not finite or ≤ 0 is always rejected.
public enum MissingMetricPolicy: String, Codable, Sendable, Hashable, CaseIterable {
    /// The topology is refused when a client can lack the metric (MWA on `adv_loss` with clients
    /// on `mode = "none"`); should an update lack it anyway, it is rejected with the reason.
    case refuse
    /// A round in which any accepted update lacks the metric merges all of them uniformly (1/n);
    /// each such update is listed in `AggregationResult.fallbacks` with the reason.
    case uniform
    /// Updates without the metric are rejected with the reason; the others are merged by MWA.
    case skip
}

/// Metrics-weighted averaging (MWA), after Yu & Choi 2025, "Parameter-Efficient Checkpoint
/// Merging via Metrics-Weighted Averaging".
///
/// Given inputs θ_i with a metric m_i > 0 and a penalty p ≥ 0:
/// - loss-type metrics:     w_i = m_i^(−p) / Σ_j m_j^(−p)   (lower loss, more weight)
/// - progress-type metrics: w_i = m_i^p    / Σ_j m_j^p      (more steps, more weight)
/// and the merge is θ = Σ_i w_i θ_i (in a round: global += lr · Σ_i w_i Δ_i).
///
/// p = 0 gives exactly the uniform average 1/n; as p grows the weight concentrates on the best
/// metric, and p → ∞ approaches picking it alone. p is bounded to 0…10 because beyond that the
/// merge is effectively a selection and tiny metric noise decides it.
///
/// Numerics: weights are computed in log space, s_i = ±p·log m_i (+ log samples_i when combined
/// with FedAvg), w_i = exp(s_i − max_j s_j) / Σ_j exp(s_j − max_j s_j). The largest term is
/// exactly 1, so the sum is in [1, n]: no overflow, no underflow to 0/0, never NaN for any finite
/// positive metrics and any p in range.
public enum MetricsWeightedAverage {
    /// The largest accepted penalty.
    public static let maxPenalty: Double = 10

    /// Throws unless 0 ≤ p ≤ `maxPenalty` and p is finite.
    public static func validatePenalty(_ p: Double) throws {
        guard p.isFinite, p >= 0, p <= maxPenalty else { throw MergeConfigError.penaltyOutOfRange(p) }
    }

    /// Why a metric value cannot be used, or nil when it can (finite and > 0).
    public static func problem(with value: Double?, key: String) -> String? {
        guard let value else { return "metric '\(key)' missing from the update" }
        guard value.isFinite else { return "metric '\(key)' is not finite (\(value))" }
        guard value > 0 else { return "metric '\(key)' must be > 0 for MWA but is \(value)" }
        return nil
    }

    /// Normalised weights for metrics that have all passed `problem(with:key:)`.
    ///
    /// `logExtra[i]`, when given, is added to the log-weight (log of sample counts for MWA × FedAvg).
    public static func weights(metrics: [Double], kind: MetricKind, penalty: Double,
                               logExtra: [Double]? = nil) throws -> [Double] {
        try validatePenalty(penalty)
        let sign: Double = kind == .loss ? -1 : 1
        var scores = [Double](repeating: 0, count: metrics.count)
        for i in metrics.indices {
            guard MetricsWeightedAverage.problem(with: metrics[i], key: "metric") == nil else {
                throw MergeError.invalidCheckpoint(position: i, reason: "metric \(metrics[i]) must be finite and > 0")
            }
            // p = 0 must give exactly uniform weights, even for subnormal metrics where log is large.
            scores[i] = penalty == 0 ? 0 : sign * penalty * log(metrics[i])
            if let logExtra { scores[i] += logExtra[i] }
        }
        return softmax(scores)
    }

    /// exp(s_i − max) / Σ exp(s_j − max), summed in index order.
    static func softmax(_ scores: [Double]) -> [Double] {
        guard let top = scores.max() else { return [] }
        var w = scores.map { exp($0 - top) }
        var total = 0.0
        for x in w { total += x }
        for i in w.indices { w[i] /= total }
        return w
    }
}
