/// An update that is not merged, and why: refused at the server's edge (undecodable, wrong
/// length, not finite, beyond the norm bound) or by the strategy (it cannot weigh it). The one
/// type for the concept from the state machine to the log.
public struct Rejection: Sendable, Hashable {
    public var clientIndex: Int
    public var reason: RejectionReason

    public init(clientIndex: Int, reason: RejectionReason) {
        self.clientIndex = clientIndex
        self.reason = reason
    }
}

/// Why an update is not merged. Each case carries its context and knows its `category` (a
/// stable short name for summaries and the log's `category` field); `description` is the
/// sentence the log's `reason` field carries.
public enum RejectionReason: Error, Sendable, Hashable, CustomStringConvertible {
    /// The payload could not be decoded in the run's encoding (the codec's message).
    case undecodable(String)
    /// The dense delta's length differs from the model's.
    case wrongLength(values: Int, parameters: Int)
    /// A delta value is NaN or infinite.
    case nonFiniteValue(index: Int, value: Float)
    /// The update's ℓ2 norm is beyond the round's bound (`[merge] max_update_norm*`).
    case normBeyondBound(norm: Double, bound: Double)
    /// The update reports no positive sample count.
    case nonPositiveSamples(Int)
    /// A reported metric is NaN or infinite.
    case nonFiniteMetric(key: String, value: Double)
    /// The strategy cannot weigh the update (a weight input is missing or invalid); says which.
    case cannotWeigh(String)
    /// Merged, but by a fallback rule rather than the strategy's own (MWA's
    /// `missing_metric = "uniform"`); carries the reason it could not be weighed.
    indirect case mergedByFallback(RejectionReason, rule: String)
    /// An UPDATE in clear in a secure-aggregation round: the server refuses to see a client's
    /// update there (its clients answer the SecAgg stages instead).
    case inClearUnderSecAgg

    public var category: String {
        switch self {
        case .undecodable: "undecodable delta"
        case .wrongLength: "wrong delta length"
        case .nonFiniteValue: "non-finite delta"
        case .normBeyondBound: "norm beyond bound"
        case .nonPositiveSamples: "no samples"
        case .nonFiniteMetric: "non-finite metric"
        case .cannotWeigh: "cannot weigh"
        case .mergedByFallback: "fallback merge"
        case .inClearUnderSecAgg: "update in clear under secagg"
        }
    }

    public var description: String {
        switch self {
        case let .undecodable(why): why
        case let .wrongLength(values, parameters): "delta has \(values) values, the model has \(parameters)"
        case let .nonFiniteValue(index, value): "delta[\(index)] is \(value)"
        case let .normBeyondBound(norm, bound): "update norm \(norm) is beyond the round's bound \(bound)"
        case let .nonPositiveSamples(n): "reported \(n) samples"
        case let .nonFiniteMetric(key, value): "metric \(key) is \(value)"
        case let .cannotWeigh(why): why
        case let .mergedByFallback(reason, rule): "\(reason): \(rule)"
        case .inClearUnderSecAgg: "an UPDATE in clear in a secure-aggregation round; the run's clients must mask their input ([secagg])"
        }
    }
}
