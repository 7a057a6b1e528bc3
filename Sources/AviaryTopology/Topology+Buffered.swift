import AviaryMerge

/// `[server] mode`: how the server turns arrivals into model updates.
public enum ServerMode: String, Sendable, Hashable, CaseIterable {
    /// Rounds: sample, wait for the round to close, merge (the default).
    case sync
    /// Buffered asynchronous aggregation on the simulated clock (FedBuff; K = 1 is FedAsync).
    case buffered
}

/// `[server] clock` in buffered mode: what orders the arrivals.
public enum BufferedClock: String, Sendable, Hashable, CaseIterable {
    /// The simulated clock (`[system]`): arrivals are applied at their simulated completion
    /// times, whatever order processes finish in; bit-for-bit reproducible (the default).
    case simulated
    /// The wall clock: arrivals are applied in the order the server receives them, and a
    /// replacement client starts when one finishes. For real multi-host deployments; not
    /// reproducible (the order depends on the machines and the network).
    case wall
}

/// `[server] mode = "buffered"`'s keys (docs/TOPOLOGY.md, "Buffered mode").
public struct BufferedSettings: Sendable, Hashable {
    /// What orders the arrivals: the simulated clock (reproducible) or the wall clock.
    public var clock: BufferedClock = .simulated
    /// Clients training at once: a slot that frees is refilled at that simulated moment.
    public var concurrency: Int
    /// K: the server updates the model after every K arrivals it keeps.
    public var bufferSize: Int
    public var staleness: StalenessDiscount
    /// Arrivals staler than this many versions are discarded (and logged); nil keeps all.
    public var maxStaleness: Int?

    public init(concurrency: Int, bufferSize: Int, staleness: StalenessDiscount = .polynomial(a: 0.5), maxStaleness: Int? = nil) {
        self.concurrency = concurrency; self.bufferSize = bufferSize; self.staleness = staleness; self.maxStaleness = maxStaleness
    }
}

extension Topology {
    static let bufferedKeys = ["clock", "concurrency", "buffer_size", "staleness", "staleness_a", "staleness_b", "max_staleness"]

    /// `[server] mode` and, in buffered mode, its keys; read only when `mode` is written, so sync
    /// runs record the configuration they always did. `perRound` is `clients_per_round` (the
    /// default concurrency).
    static func parseMode(_ t: TableReader, clients: Int, perRound: Int) throws(TopologyError) -> (ServerMode, BufferedSettings?) {
        let mode = t.has("mode") ? try t.choice("mode", default: ServerMode.sync) : .sync
        guard mode == .buffered else {
            t.ignore(bufferedKeys, because: "it applies to [server] mode = \"buffered\"")
            return (mode, nil)
        }
        let clock = try t.choice("clock", default: BufferedClock.simulated)
        let concurrency = try t.int("concurrency", default: perRound)
        guard (1...clients).contains(concurrency) else {
            throw t.invalid("concurrency", "\(concurrency)", expected: "an integer in 1...\(clients) ([data] clients): each client trains in at most one slot at a time")
        }
        let k = try t.int("buffer_size", default: min(10, concurrency))
        guard (1...concurrency).contains(k) else {
            throw t.invalid("buffer_size", "\(k)", expected: "an integer in 1...\(concurrency) ([server] concurrency): a buffer larger than the clients in flight never fills")
        }
        let kind = try t.string("staleness", default: "polynomial")
        let staleness: StalenessDiscount
        switch kind {
        case "constant":
            t.ignore(["staleness_a", "staleness_b"], because: "staleness = \"constant\" has no parameters")
            staleness = .constant
        case "polynomial":
            t.ignore(["staleness_b"], because: "it applies to staleness = \"hinge\"")
            staleness = .polynomial(a: try t.double("staleness_a", default: 0.5))
        case "hinge":
            staleness = .hinge(a: try t.double("staleness_a", default: 10), b: try t.double("staleness_b", default: 4))
        default:
            throw t.invalid("staleness", "\"\(kind)\"", expected: "\"constant\", \"polynomial\" ((1 + s)^−a) or \"hinge\" (1 while s ≤ b, then 1/(a(s − b) + 1))")
        }
        if let problem = staleness.parameterProblem {
            throw t.invalid(problem.key, "\(problem.value)", expected: problem.expected)
        }
        let maxStaleness = try t.int("max_staleness")
        if let maxStaleness, maxStaleness < 0 {
            throw t.invalid("max_staleness", "\(maxStaleness)", expected: "an integer ≥ 0 (versions an update may lag behind), or no key to keep every update")
        }
        var settings = BufferedSettings(concurrency: concurrency, bufferSize: k, staleness: staleness, maxStaleness: maxStaleness)
        settings.clock = clock
        return (mode, settings)
    }

    /// Rules that span sections in buffered mode, each naming the key to change.
    func checkBuffered(file: String, warnings: WarningSink) throws(TopologyError) {
        guard let buffered = server.buffered else { return }
        if buffered.clock == .wall {
            // Real devices set the pace: a simulated population would only pretend to.
            if system != nil {
                throw .invalidValue(file: file, key: "server.clock", value: "\"wall\"",
                                    expected: "\"simulated\" with a [system] section, or no [system] section: on the wall clock the real processes' speed orders the arrivals, and the simulated devices would be ignored")
            }
            if evaluation.mode != .server {
                throw .invalidValue(file: file, key: "evaluation.mode", value: "\"\(evaluation.mode.rawValue)\"",
                                    expected: "\"server\" with [server] clock = \"wall\": clients train without pause, so there is no moment between rounds to send EVALUATE")
            }
        }
        try checkBufferedMerge(buffered, file: file, warnings: warnings)
        guard buffered.clock == .simulated else { return }
        guard let system else {
            throw .invalidValue(file: file, key: "server.mode", value: "\"buffered\"",
                                expected: "a [system] section: buffered mode orders arrivals by the simulated clock, which needs the clients' device profiles (or [server] clock = \"wall\" on real devices, not reproducible)")
        }
        let syncOnly = [("deadline", system.deadline != nil), ("k_fastest", system.kFastest != nil),
                        ("straggler_policy", system.stragglerPolicy != .drop), ("online_period", system.onlinePeriod != nil)]
        for (key, set) in syncOnly where set {
            warnings.add("\(file): 'system.\(key)' is ignored: it belongs to synchronous rounds, and buffered mode has none (availability is drawn afresh for each replacement client)")
        }
    }

    /// Buffered rules on either clock: aggregators a buffer breaks, sampling, privacy.
    private func checkBufferedMerge(_ buffered: BufferedSettings, file: String, warnings: WarningSink) throws(TopologyError) {
        switch merge.strategy {
        case .fedavg, .fedavgSamplesProcessed, .uniform, .mwa:
            break
        case .median, .trimmedMean, .krum, .multiKrum:
            // Their guarantees assume the honest updates were computed on one model, so that
            // they cluster; a buffer mixes model versions, and an honest stale update looks like an
            // outlier. They also pick per coordinate or per client, so no linear discount applies.
            guard buffered.staleness == .constant else {
                throw .invalidValue(file: file, key: "server.staleness", value: "\"\(buffered.staleness.name)\"",
                                    expected: "\"constant\" with [merge] strategy = \"\(merge.strategy.name)\": it selects per coordinate or per client and has no linear weight a staleness discount could scale")
            }
            warnings.add("\(file): [merge] strategy = \"\(merge.strategy.name)\" in buffered mode: its robustness assumes honest updates computed on one model version; a buffer mixes versions, so honest stale updates may be discarded as outliers (set [server] max_staleness to keep the buffer's versions close)")
        }
        if server.sampling == .poisson {
            throw .invalidValue(file: file, key: "server.sampling", value: "\"poisson\"",
                                expected: "\"fixed\" in buffered mode: a freed slot is refilled by one client drawn from the idle ones, not by per-client coin flips")
        }
        if privacy.mode != .none {
            throw .invalidValue(file: file, key: "privacy.mode", value: "\"\(privacy.mode.rawValue)\"",
                                expected: "\"none\" in buffered mode: a noised release per server update and its accounting (q = 1) are not built yet")
        }
    }
}
