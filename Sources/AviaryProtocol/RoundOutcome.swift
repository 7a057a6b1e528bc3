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
    /// Under `[secagg]`: the round's secure aggregation and its verdict; `updates` is then empty
    /// (no client sends one in clear). nil otherwise.
    public var secAgg: SecAggRoundReport? = nil

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

/// A secure-aggregation round as the server saw it (`RoundOutcome.secAgg`): the verdict, and
/// what the log records per round (docs/LOG.md, "secagg"). Counts, bytes and times only: the
/// server never sees one client's update or weight, so none is here.
public struct SecAggRoundReport: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        /// Σw_iΔ_i / Σw_i over the clients whose masked input was unmasked, dequantised, and Σw_i.
        case aggregated(mean: [Float], weightTotal: Double, survivors: [Int])
        /// The round merges nothing, with why (fewer than t survivors, a secret with too few
        /// shares, parameters that do not work for the round's clients).
        case failed(String)
    }

    public var verdict: Verdict
    /// k (neighbours per client), t, and the ring; nil when the round's parameters were refused.
    public var degree: Int?
    public var threshold: Int?
    public var participants: Int
    /// Clients that answered each stage: advertise keys, share keys, masked input, unmasking.
    public var survivors: [Int] = [0, 0, 0, 0]
    /// Frame bytes per stage, client → server and server → client (encoded sizes).
    public var bytesUp: [Int] = [0, 0, 0, 0]
    public var bytesDown: [Int] = [0, 0, 0, 0]
    /// Seconds each stage was open on the server's clock (stage 1 includes local training).
    public var stageSeconds: [Double] = [0, 0, 0, 0]
    /// Clients the stage machine dropped for breaking the protocol, with why.
    public var dropped: [Int: String] = [:]

    public init(verdict: Verdict, degree: Int?, threshold: Int?, participants: Int) {
        self.verdict = verdict; self.degree = degree; self.threshold = threshold; self.participants = participants
    }
}
