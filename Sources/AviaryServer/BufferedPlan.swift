import AviaryTopology

/// A buffered run's whole schedule, computed before training: arrival times depend only on the
/// clients' profiles and training work, never on what they compute, so who trains on which
/// version and which arrivals make each server update are a pure function of the topology
/// (recomputed on resume, never saved). The server runs it as rounds: round r sends version
/// r − 1 to the clients started on it (`batches[r − 1]`) and, once they answered, applies server
/// update r from the updates held so far (`updates[r − 1]`), which trained on versions ≤ r − 1.
/// Client processes may train a round's clients in any order and at any speed; the order of
/// application is the plan's.
public struct BufferedPlan: Sendable, Equatable {
    /// One server update: its version, simulated time, the buffer (arrival order, with its
    /// staleness) and the arrivals discarded as over-stale since the previous update.
    public struct Update: Sendable, Equatable {
        public var version: Int
        public var time: Double
        public var buffer: [(entry: InFlightClient, staleness: Int)]
        public var discarded: [(entry: InFlightClient, staleness: Int)]

        public static func == (a: Update, b: Update) -> Bool {
            a.version == b.version && a.time == b.time
                && a.buffer.map(\.entry) == b.buffer.map(\.entry) && a.buffer.map(\.staleness) == b.buffer.map(\.staleness)
                && a.discarded.map(\.entry) == b.discarded.map(\.entry) && a.discarded.map(\.staleness) == b.discarded.map(\.staleness)
        }
    }

    /// `batches[v]`: the clients started on version v, in start order.
    public var batches: [[InFlightClient]]
    /// `updates[v]` makes version v + 1; shorter than `rounds` when the schedule stalls (nobody
    /// online and nobody in flight).
    public var updates: [Update]
    /// Where the schedule stalled before `rounds` updates: nobody in flight, so no arrival will
    /// ever come, and no idle client was online for the replacement draws. nil when it did not.
    public var stall: Stall?
    /// Every arrival some update takes, in its buffer or as discarded. The others arrive after
    /// the last update: they train (their round waits for them) but no update ever reads their
    /// deltas, so the server does not hold them (nor save them in the run state).
    public var consumed: Set<Arrival>

    /// A client's training that started on a version: what identifies an arrival.
    public struct Arrival: Sendable, Hashable {
        public var client: Int
        public var startVersion: Int
        public init(client: Int, startVersion: Int) { self.client = client; self.startVersion = startVersion }
        public init(_ e: InFlightClient) { self.init(client: e.client, startVersion: e.startVersion) }
    }

    public struct Stall: Sendable, Equatable {
        /// Server updates made before it stalled, and the simulated time of the last arrival.
        public var version: Int
        public var time: Double
        /// Arrivals waiting in the buffer (fewer than K), and the idle clients none of which was online.
        public var buffered: Int
        public var idle: Int
    }

    /// Runs `schedule` until `rounds` server updates. `seconds(c)`: client c's download, compute
    /// and upload time; `online(c, draw, time)`: its availability for a replacement draw.
    public init(schedule start: BufferedSchedule, rounds: Int, seconds: (Int) -> Double, online: (Int, Int, Double) -> Bool) {
        var s = start
        batches = Array(repeating: [], count: rounds)
        updates = []
        consumed = []
        var discarded: [(entry: InFlightClient, staleness: Int)] = []
        func fill() {
            let now = s.now
            for e in s.fill(seconds: seconds, online: { online($0, $1, now) }) where e.startVersion < rounds { batches[e.startVersion].append(e) }
        }
        fill()
        while s.version < rounds, let step = s.advance() {
            if step.discarded { discarded.append((step.arrival, step.staleness)) }
            if let buffer = step.update {
                updates.append(Update(version: s.version, time: s.now,
                                      buffer: buffer.map { ($0, step.version - $0.startVersion) }, discarded: discarded))
                discarded = []
            }
            if s.version < rounds { fill() }
        }
        consumed = Set(updates.flatMap { u in (u.buffer + u.discarded).map { Arrival($0.entry) } })
        stall = s.version < rounds ? Stall(version: s.version, time: s.now, buffered: s.buffer.count, idle: s.clients - s.buffer.count) : nil
    }

    /// The plan for a buffered topology on `clock`.
    public init(topology: Topology, clock: SimulatedClock) {
        let settings = topology.server.buffered!
        self.init(schedule: BufferedSchedule(settings: settings, clients: topology.data.clients, samplingSeed: topology.seeds.sampling),
                  rounds: topology.rounds, seconds: { clock.clientSeconds($0) },
                  online: { clock.isOnline(client: $0, draw: $1, at: $2) })
    }
}

/// A buffered topology whose schedule cannot make its `[run] rounds` server updates.
public enum BufferedPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case stalled(BufferedPlan.Stall, rounds: Int, bufferSize: Int)

    public var description: String {
        switch self {
        case let .stalled(s, rounds, k):
            "[server] mode = \"buffered\": the simulated schedule stalls after server update \(s.version) of \(rounds) ([run] rounds), "
                + "at simulated \(String(format: "%.1f", s.time)) s: no client is in flight, so no update can ever arrive, \(s.buffered) of the "
                + "buffer's \(k) arrivals are waiting, and none of the \(s.idle) idle clients was online for a replacement ([system] "
                + "availability, or the behaviour trace). Lower [run] rounds to \(s.version) or make clients available"
        }
    }
}
