/// Protocol bytes of one round attributed to clients (docs/LOG.md, "Traffic"): sizes of the
/// frames as encoded, so they are deterministic (heartbeats and registration are not in them).
public struct RoundTraffic: Sendable, Equatable {
    /// Client → bytes of the UPDATE or FAILURE frame it answered the round with (accepted or
    /// rejected alike). Clients that never answered have no entry.
    public var up: [Int: Int] = [:]
    /// Client → bytes a client downloads to train this round: the MODEL frame plus a TRAIN frame
    /// naming it alone, as if it were a process of its own (processes hosting several sampled
    /// clients share one MODEL, so the sum over clients can exceed `downSent`).
    public var down: [Int: Int] = [:]
    /// MODEL and TRAIN frames actually sent this round, one of each per process with sampled
    /// clients (and again to a process that re-registered sampled clients).
    public var downSent = 0

    public init(up: [Int: Int] = [:], down: [Int: Int] = [:], downSent: Int = 0) {
        self.up = up; self.down = down; self.downSent = downSent
    }

    /// Sum of `up` over clients.
    public var upTotal: Int { up.values.reduce(0, +) }
}
