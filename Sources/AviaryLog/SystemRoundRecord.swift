/// The simulated clock's view of one round (`[system]` topologies only): the round record's
/// `system` object (docs/LOG.md).
public struct SystemRoundRecord: Codable, Sendable, Equatable {
    /// Simulated seconds from the round's start to its close.
    public var roundSeconds: Double
    /// The simulated clock at the round's close (cumulative, from the run's start).
    public var clockSeconds: Double
    /// How many clients were offline (not candidates for sampling) this round.
    public var offlineCount: Int
    /// The offline clients, ascending; omitted when more than `offlineListLimit` (availability
    /// is a pure function of the system seed, so they can be recomputed).
    public var offline: [Int]?
    /// Sampled clients that would miss the round's close, ascending ("drop": not asked to train).
    public var stragglers: [Int]
    /// Late updates of earlier rounds merged into this one ("stale" policy).
    public var staleMerged: [StaleMergedUpdate]?
    /// Clients still training for an earlier round ("stale" policy), left out of sampling.
    public var busy: [Int]?
    /// Buffered mode: the server update this round applied.
    public var buffered: BufferedUpdateRecord? = nil

    public static let offlineListLimit = 1000

    public init(roundSeconds: Double, clockSeconds: Double, offline: [Int], stragglers: [Int],
                staleMerged: [StaleMergedUpdate]? = nil, busy: [Int]? = nil) {
        self.roundSeconds = roundSeconds; self.clockSeconds = clockSeconds; self.offlineCount = offline.count
        self.offline = offline.count <= Self.offlineListLimit ? offline : nil
        self.stragglers = stragglers; self.staleMerged = staleMerged; self.busy = busy
    }
}

/// A straggler's update merged late, scaled by its staleness weight.
public struct StaleMergedUpdate: Codable, Sendable, Equatable {
    public var client: Int
    /// The round it trained for.
    public var fromRound: Int
    /// (1 + rounds late)^(−staleness_exponent): the factor its delta was scaled by.
    public var scale: Double
    public init(client: Int, fromRound: Int, scale: Double) { self.client = client; self.fromRound = fromRound; self.scale = scale }
}

/// One server update of a buffered run (`[server] mode = "buffered"`): the round record's
/// `system.buffered` object (docs/LOG.md).
public struct BufferedUpdateRecord: Codable, Sendable, Equatable {
    /// The model version this update made (the round number).
    public var version: Int
    /// Simulated seconds at the update: the arrival that filled the buffer.
    public var clockSeconds: Double
    /// The buffer, by client index.
    public var updates: [BufferedUpdateEntry]
    /// Arrivals discarded since the previous update for staleness above `max_staleness`.
    public var discarded: [BufferedUpdateEntry]?
    /// "wall" when `[server] clock = "wall"` ran: `clock_seconds` and the arrivals' times are
    /// wall seconds since the run started, in the order received; nil (absent) on the simulated clock.
    public var clock: String?

    public init(version: Int, clockSeconds: Double, updates: [BufferedUpdateEntry], discarded: [BufferedUpdateEntry]?) {
        self.version = version; self.clockSeconds = clockSeconds; self.updates = updates; self.discarded = discarded
    }
}

public struct BufferedUpdateEntry: Codable, Sendable, Equatable {
    public var client: Int
    /// The version it trained on.
    public var startVersion: Int
    /// Simulated seconds at which its update arrived.
    public var arrival: Double
    /// Version at arrival − start version.
    public var staleness: Int
    /// The staleness discount its delta was scaled by.
    public var discount: Double
    /// Its strategy weight over the buffer × the discount (nil for discarded or missing updates).
    public var weight: Double?
    /// Why it is not in the merge although the plan has it (its process failed or was lost).
    public var missing: String?

    public init(client: Int, startVersion: Int, arrival: Double, staleness: Int, discount: Double,
                weight: Double? = nil, missing: String? = nil) {
        self.client = client; self.startVersion = startVersion; self.arrival = arrival; self.staleness = staleness
        self.discount = discount; self.weight = weight; self.missing = missing
    }
}
