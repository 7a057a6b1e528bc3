/// A round's differential privacy (`[privacy]`, docs/PRIVACY.md), in its round record.
public struct PrivacyRoundRecord: Codable, Sendable, Equatable {
    /// "central" or "local".
    public var mode: String
    /// ε spent by the run so far, after this round, at `delta`: the whole federation's for
    /// central DP; for local DP the largest any client has spent (the client that released the
    /// most reports). nil when it is not reported (`unaccounted` says why) or unbounded
    /// (noise_multiplier 0).
    public var epsilon: Double?
    public var delta: Double
    /// The clip norm S this round used.
    public var clipNorm: Double
    /// Adaptive clipping: the clip norm of the next round.
    public var nextClipNorm: Double? = nil
    /// Central DP: the std of the Gaussian noise on each coordinate of the merged delta (z_Δ·b·S).
    public var noiseStd: Double? = nil
    /// Central DP: merged updates whose norm was ≤ S (before noise), and the noised count adaptive
    /// clipping used.
    public var unclipped: Int? = nil
    public var noisedUnclipped: Double? = nil
    /// Why ε is not reported (e.g. fixed-size sampling of a subset).
    public var unaccounted: String? = nil
    /// Local DP: this round's reporting clients → each one's ε so far, from the rounds it took
    /// part in (`LocalPrivacyLedger`); nil in central mode and when ε is unbounded.
    public var clientEpsilon: [String: Double]? = nil

    public init(mode: String, epsilon: Double?, delta: Double, clipNorm: Double) {
        self.mode = mode; self.epsilon = epsilon; self.delta = delta; self.clipNorm = clipNorm
    }
}

/// `run_end.privacy`: what the run spent, at its end.
public struct PrivacyRunEndRecord: Codable, Sendable, Equatable {
    /// Local DP: how many clients released k reports, and their ε.
    public struct ReportGroup: Codable, Sendable, Equatable {
        public var reports: Int
        public var clients: Int
        public var epsilon: Double?
        public init(reports: Int, clients: Int, epsilon: Double?) {
            self.reports = reports; self.clients = clients; self.epsilon = epsilon
        }
    }

    public var mode: String
    public var delta: Double
    /// Central: the federation's ε; local: the largest any client spent. nil when not reported.
    public var epsilon: Double?
    /// Local DP: ε per client that took part, for clients 0..<`listedClientLimit` (every client
    /// is in `byReports`); nil in central mode.
    public var clients: [String: Double]? = nil
    /// Local DP: every client that took part, grouped by reports released, ascending.
    public var byReports: [ReportGroup]? = nil
    /// Clients that took part (released at least one report); local DP only.
    public var participants: Int? = nil

    /// Clients listed one by one in `clients` at most (the run log's bound on per-client lists).
    public static let listedClientLimit = 1000

    public init(mode: String, delta: Double, epsilon: Double?) {
        self.mode = mode; self.delta = delta; self.epsilon = epsilon
    }
}
