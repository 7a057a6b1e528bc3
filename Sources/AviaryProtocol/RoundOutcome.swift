import AviaryMerge

/// What one round produced, handed to the merge. `updates` are checked `ClientUpdate`s sorted
/// by client index (the merge order, whatever order they arrived in); nothing past the state
/// machine sees the wire's `UpdateMessage`.
public struct RoundOutcome: Sendable, Equatable {
    public var round: Int
    public var sampled: [Int]
    public var updates: [ClientUpdate]
    public var failures: [FailureMessage]
    /// Updates refused at the edge (undecodable, wrong length, not finite, bad weight input).
    public var rejected: [Rejection]
    /// Sampled clients that had not answered when the round deadline passed.
    public var timedOut: [Int]
    /// Sampled clients whose process was lost (liveness expired, or its connection dropped)
    /// before they answered; the round did not wait for them.
    public var lost: [Int]
    /// Frame bytes per client, up and down (encoded sizes, so deterministic).
    public var traffic = RoundTraffic()
    /// Wall-clock buffered mode: the buffer's arrivals (version trained on, when received,
    /// staleness) and the discarded ones; nil in rounds.
    public var wall: WallUpdateOutcome? = nil

    public init(round: Int, sampled: [Int], updates: [ClientUpdate], failures: [FailureMessage],
                rejected: [Rejection], timedOut: [Int], lost: [Int]) {
        self.round = round; self.sampled = sampled; self.updates = updates; self.failures = failures
        self.rejected = rejected; self.timedOut = timedOut; self.lost = lost
    }
}

/// Where FedAvg's `dataset_size` weight input comes from (`ServerStateMachine.Configuration`).
public enum DatasetSizes: Sendable {
    /// The server derived every client's size from the partition (built-in datasets): a
    /// client's own report is ignored.
    case known([Int])
    /// The server cannot derive sizes: a client's report is trusted up to `cap`.
    case reported(cap: Double)

    /// The `dataset_size` to weigh `client` by, given what it reported (nil: nothing).
    public func size(of client: Int, reported: Double?) -> Double? {
        switch self {
        case let .known(sizes): client >= 0 && client < sizes.count ? Double(sizes[client]) : nil
        case let .reported(cap): reported.map { $0.isFinite ? min($0, cap) : $0 }
        }
    }

    /// Default cap on a reported size: more samples than any dataset Aviary loads.
    public static let defaultCap = 1e9
}
