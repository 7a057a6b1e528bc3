import AviaryMath
import AviaryMerge

/// Buffered asynchronous aggregation on the wall clock (`[server] mode = "buffered"`, `clock =
/// "wall"`): up to `concurrency` clients train at once; an UPDATE is buffered the moment it is
/// received, every `bufferSize` buffered arrivals close a server update (an `aggregate` action),
/// and a slot that frees is refilled at once by a client drawn from the idle ones. The order is
/// whatever the machines and the network deliver, so a run is not reproducible (the simulated
/// clock's buffered mode is; the server builds that one from a precomputed plan instead).
///
/// Server update r (the state machine's round r) turns version r − 1 into version r: clients
/// started while the model is at version r − 1 get MODEL and TRAIN tagged round r, and an
/// UPDATE answers the tag it was sent with. Its staleness is the version it is applied to minus
/// the version it trained on. While update r is being merged, arrivals keep being buffered
/// (for update r + 1) but freed slots wait: the replacement trains on the newest version, as in
/// the simulated schedule.
public struct WallSchedule: Sendable, Equatable {
    public var concurrency: Int
    public var bufferSize: Int
    /// Arrivals staler than this are discarded (and reported in the outcome); nil keeps all.
    public var maxStaleness: Int?

    public init(concurrency: Int, bufferSize: Int, maxStaleness: Int? = nil) {
        precondition(concurrency >= 1 && (1...concurrency).contains(bufferSize))
        self.concurrency = concurrency; self.bufferSize = bufferSize; self.maxStaleness = maxStaleness
    }
}

/// One arrival of a wall-clock buffered run, as the merge and the log see it.
public struct WallArrival: Sendable, Equatable {
    public var client: Int
    /// The model version it trained on (its tag − 1).
    public var startVersion: Int
    /// The state machine's time (the server's monotonic seconds) at which it was received.
    public var received: Double
    /// The version it is applied to minus `startVersion` (set when the update closes).
    public var staleness: Int

    public init(client: Int, startVersion: Int, received: Double, staleness: Int) {
        self.client = client; self.startVersion = startVersion; self.received = received; self.staleness = staleness
    }
}

/// What a wall-clock server update adds to its `RoundOutcome`.
public struct WallUpdateOutcome: Sendable, Equatable {
    /// The buffer, in arrival order (the outcome's `updates` are the same clients, in index order).
    public var buffer: [WallArrival]
    /// Arrivals discarded as staler than `max_staleness` since the previous update.
    public var discarded: [WallArrival]
    /// When the buffer filled (the state machine's time).
    public var closed: Double
}

extension ServerStateMachine {
    struct Dispatch: Sendable {
        /// The round (server update) the client was started in: it trains on version tag − 1.
        var tag: Int
        var deadline: Double
    }

    /// The wall-clock buffered run's state, kept across server updates.
    struct Streaming: Sendable {
        /// The server update being filled (the model is at version round − 1), or merged.
        var round: Int
        /// The `aggregate` of `round` is out and `roundCompleted` has not come back yet.
        var merging = false
        var inFlight: [Int: Dispatch] = [:]
        /// Kept arrivals not yet merged, in arrival order, with their checked updates.
        var buffer: [(arrival: WallArrival, update: ClientUpdate)] = []
        /// Replacement draws so far: the index of the next draw's stream.
        var draws = 0
        /// Processes (slots) that have this round's MODEL: a refill sends them TRAIN alone.
        var modelSent: Set<Int32> = []
        // What happened since the last update, for its outcome.
        var started: [Int] = []
        var failures: [Int: FailureMessage] = [:]
        var rejected: [Rejection] = []
        var timedOut: [Int] = []
        var lost: [Int] = []
        var discarded: [WallArrival] = []
        var traffic = RoundTraffic()

        func isBusy(_ c: Int) -> Bool { inFlight[c] != nil || buffer.contains { $0.arrival.client == c } }
    }

    /// Wall-clock buffered mode's stream namespace under the sampling seed (apart from rounds').
    static var wallDrawNamespace: UInt64 { 0xA11C << 48 }
    static var wallMaxRejections: Int { 64 }

    /// Starts the wall-clock run at `round` (1, or the one after the last a resumed run
    /// completed): every slot is filled on the current model.
    mutating func startWall(_ round: Int, now: Double) -> [Action] {
        phase = .streaming(Streaming(round: round))
        lastHeartbeat = now
        return [.roundStarted(round: round, sampled: [])] + fillWall(now: now)
    }

    /// Fills every free slot with an idle, registered, responsive client (uniform draws from a
    /// seeded stream per draw, then a scan), one MODEL per process per update and one TRAIN per
    /// process per fill. Finishes the run when nothing is in flight, the buffer cannot fill and
    /// nobody is left to start.
    mutating func fillWall(now: Double) -> [Action] {
        guard case var .streaming(s) = phase, !s.merging, let wall = configuration.wall else { return [] }
        var chosen: [Int] = []
        let clients = configuration.clients
        func idle(_ c: Int) -> Bool { holder[c] >= 0 && !unresponsive.contains(c) && !s.isBusy(c) }
        while s.inFlight.count < wall.concurrency {
            var rng = RandomStream(seed: configuration.samplingSeed, purpose: .sampling, index: Self.wallDrawNamespace | UInt64(s.draws))
            s.draws += 1
            var pick: Int? = nil
            var c = 0
            for _ in 0..<Self.wallMaxRejections {
                c = rng.nextInt(below: clients)
                if idle(c) { pick = c; break }
            }
            if pick == nil, registeredCount > 0 {
                for step in 1...clients where idle((c + step) % clients) { pick = (c + step) % clients; break }
            }
            guard let client = pick else { break }
            s.inFlight[client] = Dispatch(tag: s.round, deadline: now + configuration.roundTimeout)
            chosen.append(client)
        }
        if s.inFlight.isEmpty && s.buffer.count < wall.bufferSize {
            phase = .streaming(s)
            return finish(success: false, reason: "wall-clock buffered mode stalled at server update \(s.round): no client in flight, \(s.buffer.count) of the buffer's \(wall.bufferSize) arrivals waiting, and no idle responsive client registered (\(registeredCount) registered, \(unresponsive.count) missed a deadline)")
        }
        var actions: [Action] = []
        if !chosen.isEmpty {
            var bySlot: [Int32: [Int]] = [:]
            for c in chosen { bySlot[holder[c], default: []].append(c) }
            let model = Message.model(ModelMessage(round: s.round, parameters: globalParameters))
            let modelBytes = WireCodec.encodedSize(model)
            for slot in bySlot.keys.sorted() {
                let peer = peers[Int(slot)]!.peer
                let train = Message.train(TrainMessage(round: s.round, clients: bySlot[slot]!.sorted(), config: trainConfig))
                if s.modelSent.insert(slot).inserted {
                    actions.append(.send(peer, model))
                    s.traffic.downSent += modelBytes
                }
                actions.append(.send(peer, train))
                s.traffic.downSent += WireCodec.encodedSize(train)
            }
            let alone = modelBytes + WireCodec.encodedSize(.train(TrainMessage(round: s.round, clients: [0], config: trainConfig)))
            for c in chosen { s.traffic.down[c] = alone }
            s.started += chosen
        }
        phase = .streaming(s)
        return actions
    }

    /// An UPDATE in wall-clock mode: it must answer the client's current task (its tag).
    mutating func acceptWall(_ update: UpdateMessage, from peer: Peer, now: Double) -> [Action] {
        guard case var .streaming(s) = phase, let wall = configuration.wall else { return [] }
        let sender = update.clientIndex
        guard let task = s.inFlight[sender] else {
            return [.ignored(peer, .notSampled(client: sender, round: update.round))]
        }
        guard task.tag == update.round else {
            return [.ignored(peer, .staleUpdate(client: sender, round: update.round, current: task.tag))]
        }
        s.inFlight[sender] = nil
        s.traffic.up[sender, default: 0] += WireCodec.encodedSize(.update(update))
        switch Self.check(update, format: configuration.deltaFormat ?? .f32(parameterCount: configuration.parameterCount),
                          sizes: configuration.datasetSizes) {
        case let .success(checked):
            // The version it will be applied to: the one being filled, or, while that one is
            // merged, the next (pruned again when it starts, should it be later still).
            let target = s.merging ? s.round : s.round - 1
            let arrival = WallArrival(client: sender, startVersion: task.tag - 1, received: now, staleness: target - (task.tag - 1))
            if let max = wall.maxStaleness, arrival.staleness > max {
                s.discarded.append(arrival)
            } else {
                s.buffer.append((arrival, checked))
            }
        case let .failure(reason):
            s.rejected.append(Rejection(clientIndex: sender, reason: reason))
        }
        phase = .streaming(s)
        return closeWallIfFull(now: now)
    }

    /// A FAILURE answering the client's current task frees its slot.
    mutating func recordWallFailure(_ failure: FailureMessage, from peer: Peer, now: Double) -> [Action] {
        guard case var .streaming(s) = phase, let task = s.inFlight[failure.clientIndex], task.tag == failure.round else {
            return [.ignored(peer, .failureNotPending(client: failure.clientIndex, round: failure.round))]
        }
        s.inFlight[failure.clientIndex] = nil
        s.failures[failure.clientIndex] = failure
        s.traffic.up[failure.clientIndex, default: 0] += WireCodec.encodedSize(.failure(failure))
        phase = .streaming(s)
        return fillWall(now: now)
    }

    /// Clients whose process was lost or left: their slots free (buffered updates stay).
    mutating func dropFromWall(_ clients: [Int], now: Double) -> [Action] {
        guard case var .streaming(s) = phase else { return [] }
        let gone = clients.filter { s.inFlight[$0] != nil }
        for c in gone { s.inFlight[c] = nil }
        s.lost += gone
        s.modelSent = s.modelSent.filter { peers[Int($0)] != nil }
        phase = .streaming(s)
        return isFinished ? [] : fillWall(now: now)
    }

    /// Re-registered clients lost their task with their old connection: they start again on
    /// the current version (a new tag), in the same slot.
    mutating func redispatchWall(_ clients: [Int], peer: Peer, now: Double) -> [Action] {
        guard case var .streaming(s) = phase, !clients.isEmpty else { return [] }
        let again = clients.filter { s.inFlight[$0] != nil }.sorted()
        guard !again.isEmpty, !s.merging else {
            // While merging, they wait: the freed slots are refilled when the merge is back.
            for c in again { s.inFlight[c] = nil }
            phase = .streaming(s)
            return []
        }
        for c in again { s.inFlight[c] = Dispatch(tag: s.round, deadline: now + configuration.roundTimeout) }
        let model = Message.model(ModelMessage(round: s.round, parameters: globalParameters))
        let train = Message.train(TrainMessage(round: s.round, clients: again, config: trainConfig))
        s.traffic.downSent += WireCodec.encodedSize(model) + WireCodec.encodedSize(train)
        phase = .streaming(s)
        return [.send(peer, model), .send(peer, train)]
    }

    /// Per-client deadlines (`round_timeout` from the moment a client was started): a client
    /// that has not answered by then is marked unresponsive and its slot refilled.
    mutating func tickWall(now: Double) -> [Action] {
        guard case var .streaming(s) = phase else { return [] }
        let late = s.inFlight.filter { now >= $0.value.deadline }.keys.sorted()
        guard !late.isEmpty else { return [] }
        for c in late { s.inFlight[c] = nil }
        s.timedOut += late
        unresponsive.formUnion(late)
        phase = .streaming(s)
        return [.clientsUnresponsive(late)] + fillWall(now: now)
    }

    /// A full buffer (and no merge running) becomes server update `round`: its first K
    /// arrivals, with everything that happened since the last update. Otherwise the freed slot
    /// is refilled.
    mutating func closeWallIfFull(now: Double) -> [Action] {
        guard case var .streaming(s) = phase, let wall = configuration.wall else { return [] }
        guard !s.merging, s.buffer.count >= wall.bufferSize else { return fillWall(now: now) }
        let taken = s.buffer.prefix(wall.bufferSize).map { entry -> (arrival: WallArrival, update: ClientUpdate) in
            var e = entry
            e.arrival.staleness = (s.round - 1) - e.arrival.startVersion
            return e
        }
        s.buffer.removeFirst(wall.bufferSize)
        var outcome = RoundOutcome(round: s.round, sampled: s.started.sorted(),
                                   updates: taken.map(\.update).sorted { $0.clientIndex < $1.clientIndex },
                                   failures: s.failures.keys.sorted().map { s.failures[$0]! },
                                   rejected: s.rejected.sorted { $0.clientIndex < $1.clientIndex },
                                   timedOut: s.timedOut.sorted(), lost: s.lost.sorted())
        outcome.traffic = s.traffic
        outcome.wall = WallUpdateOutcome(buffer: taken.map(\.arrival), discarded: s.discarded, closed: now)
        s.merging = true
        s.started = []; s.failures = [:]; s.rejected = []; s.timedOut = []; s.lost = []; s.discarded = []
        s.traffic = RoundTraffic()
        phase = .streaming(s)
        return [.aggregate(outcome)]
    }

    /// The merge of update `round` is back: the next update starts (or the run ends); arrivals
    /// buffered meanwhile that are now too stale are discarded, and the free slots refilled.
    mutating func wallMerged(now: Double) -> [Action] {
        guard case var .streaming(s) = phase, s.merging, let wall = configuration.wall else { return [] }
        if s.round >= configuration.rounds {
            phase = .streaming(s)
            return finish(success: true, reason: "completed \(s.round) server updates")
        }
        s.round += 1
        s.merging = false
        s.modelSent = []
        if let max = wall.maxStaleness {
            let version = s.round - 1
            s.discarded += s.buffer.filter { version - $0.arrival.startVersion > max }.map {
                var a = $0.arrival
                a.staleness = version - a.startVersion
                return a
            }
            s.buffer.removeAll { version - $0.arrival.startVersion > max }
        }
        phase = .streaming(s)
        return [.roundStarted(round: s.round, sampled: [])] + closeWallIfFull(now: now)
    }
}
