import AviaryMath
import AviaryTopology

/// One client training in a buffered run's slot: the version it was sent and when, on the
/// simulated clock, its update reaches the server.
public struct InFlightClient: Sendable, Hashable, Codable {
    public var client: Int
    public var startVersion: Int
    /// Simulated seconds at which it was sent the model.
    public var start: Double
    /// Simulated seconds at which its update arrives: start + download, compute and upload.
    public var completion: Double

    public init(client: Int, startVersion: Int, start: Double, completion: Double) {
        self.client = client; self.startVersion = startVersion; self.start = start; self.completion = completion
    }
}

/// What happened at one arrival: the arrival, whether it was kept or discarded as over-stale,
/// and, when it filled the buffer, the server update it completed.
public struct BufferedStep: Sendable, Hashable {
    public var arrival: InFlightClient
    /// Version at arrival − the version it trained on.
    public var staleness: Int
    /// Staler than `max_staleness`: not buffered, logged as discarded.
    public var discarded: Bool
    /// The buffer this arrival filled (arrival order), applied as version `version` + 1; nil
    /// while the buffer is filling.
    public var update: [InFlightClient]?
    /// The server's version when the arrival was processed (before its update, if any).
    public var version: Int
}

/// Buffered asynchronous aggregation's event schedule on the simulated clock, as a value (pure:
/// no I/O, no wall clock; saved whole in the run state). Up to `concurrency` clients train at
/// once; the earliest completion arrives next (ties: lower client index first), whatever order
/// client processes actually finish in; every `bufferSize` kept arrivals make one server update;
/// a slot that frees is refilled at that simulated moment, after the update it may have
/// triggered, so the replacement trains on the newest version.
public struct BufferedSchedule: Sendable, Hashable, Codable {
    public let clients: Int
    public let concurrency: Int
    public let bufferSize: Int
    public let maxStaleness: Int?
    /// `[seeds] sampling`: replacement draws take streams in their own index namespace under it.
    public let samplingSeed: UInt64

    /// Simulated seconds: the last arrival processed.
    public private(set) var now: Double = 0
    /// Server updates applied so far (the global model's version).
    public private(set) var version: Int = 0
    /// Ascending by (completion, client): the arrival order.
    public private(set) var inFlight: [InFlightClient] = []
    /// Kept arrivals since the last server update, in arrival order. Their clients are not drawn
    /// again until the update, so a buffer holds at most one update per client.
    public private(set) var buffer: [InFlightClient] = []
    /// Replacement draws so far: the index of the next draw's stream.
    public private(set) var draws: Int = 0

    static let drawNamespace: UInt64 = 0xB0FF << 48
    /// Random draws before a draw falls back to a scan (a nearly saturated population).
    static let maxRejections = 64

    public init(settings: BufferedSettings, clients: Int, samplingSeed: UInt64) {
        precondition(settings.concurrency <= clients && settings.bufferSize <= settings.concurrency)
        self.clients = clients; concurrency = settings.concurrency; bufferSize = settings.bufferSize
        maxStaleness = settings.maxStaleness; self.samplingSeed = samplingSeed
    }

    func isBusy(_ c: Int) -> Bool { inFlight.contains { $0.client == c } || buffer.contains { $0.client == c } }

    /// Fills every free slot at `now`: each draw takes its own stream (sampling seed, draw
    /// index), picks a uniform client until one is idle and online (`online(client, draw)`),
    /// and after `maxRejections` tries scans from the last pick for the first such client. A
    /// slot nobody can take stays free until the next arrival. `seconds(client)` is its
    /// download + compute + upload time. Returns the clients started, in draw order.
    public mutating func fill(seconds: (Int) -> Double, online: (Int, Int) -> Bool) -> [InFlightClient] {
        var started: [InFlightClient] = []
        while inFlight.count < concurrency {
            let draw = draws
            draws += 1
            var rng = RandomStream(seed: samplingSeed, purpose: .sampling, index: Self.drawNamespace | UInt64(draw))
            var pick: Int? = nil
            var c = 0
            for _ in 0..<Self.maxRejections {
                c = rng.nextInt(below: clients)
                if !isBusy(c) && online(c, draw) { pick = c; break }
            }
            if pick == nil {
                for step in 1...clients where !isBusy((c + step) % clients) && online((c + step) % clients, draw) {
                    pick = (c + step) % clients
                    break
                }
            }
            guard let client = pick else { break }
            let entry = InFlightClient(client: client, startVersion: version, start: now, completion: now + seconds(client))
            insert(entry)
            started.append(entry)
        }
        return started
    }

    private mutating func insert(_ e: InFlightClient) {
        let at = inFlight.firstIndex { ($0.completion, $0.client) > (e.completion, e.client) } ?? inFlight.count
        inFlight.insert(e, at: at)
    }

    /// The next arrival, applied: the clock moves to its completion, it is kept or discarded by
    /// its staleness, and a full buffer becomes a server update (the version goes up). The
    /// caller then calls `fill` to refill the freed slot. Nil when nobody is in flight.
    public mutating func advance() -> BufferedStep? {
        guard !inFlight.isEmpty else { return nil }
        let arrival = inFlight.removeFirst()
        now = arrival.completion
        let staleness = version - arrival.startVersion
        let discarded = maxStaleness.map { staleness > $0 } ?? false
        var step = BufferedStep(arrival: arrival, staleness: staleness, discarded: discarded, update: nil, version: version)
        guard !discarded else { return step }
        buffer.append(arrival)
        if buffer.count == bufferSize {
            step.update = buffer
            buffer = []
            version += 1
        }
        return step
    }
}

extension SimulatedClock {
    /// Client `c`'s seconds from being sent the model to its update arriving (no deadline).
    public func clientSeconds(_ c: Int) -> Double {
        RoundTiming.clientSeconds(profiles.profile(c), work: work[c],
                                  downloadBytes: TransferSize.downloadBytes(parameterCount: parameterCount), uploadBytes: uploadBytes)
    }

    /// Whether client `c` is online for replacement draw `draw` at simulated time `time`: its
    /// behaviour trace at that time, else an independent draw with its availability (stream:
    /// system seed, the draw and the client, in a namespace apart from the rounds').
    public func isOnline(client c: Int, draw: Int, at time: Double) -> Bool {
        if let behaviour { return behaviour[c].isActive(at: time) }
        if availability[c] >= 1 { return true }
        var rng = RandomStream(seed: settings.seed, purpose: .sampling,
                               index: BufferedSchedule.drawNamespace | UInt64(draw) << 20 | UInt64(c) & 0xFFFFF)
        return rng.nextDouble() < availability[c]
    }
}
