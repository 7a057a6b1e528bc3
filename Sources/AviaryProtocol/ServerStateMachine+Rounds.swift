import AviaryMath
import AviarySecAgg
import AviaryMerge

/// Rounds: sampling, TRAIN and MODEL per process, accepting updates and failures, closing a
/// round, finishing the run. Registration is in ServerStateMachine+Registration.swift.
extension ServerStateMachine {
    /// Clients for `round`: a seeded sample without replacement from the available indices,
    /// returned ascending. Depends only on (sampling seed, round, available set).
    public static func sample(from candidates: [Int], count: Int, seed: UInt64, round: Int) -> [Int] {
        // Callers pass ascending indices (startRound does); sorting them is then a linear check.
        var pool = candidates.sorted()
        let k = min(count, pool.count)
        var rng = RandomStream(seed: seed, purpose: .sampling, index: UInt64(round))
        for i in 0..<k {
            let j = i + rng.nextInt(below: pool.count - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<k]).sorted()
    }

    /// Poisson sampling for `round`: client i is in the round when its own uniform draw is < q.
    /// Every one of the `clients` indices draws in index order from the round's stream, so a
    /// client's inclusion does not depend on who else is available; the unavailable ones are
    /// then left out. Returned ascending; may be empty.
    public static func poissonSample(from candidates: [Int], clients: Int, rate q: Double, seed: UInt64, round: Int) -> [Int] {
        var rng = RandomStream(seed: seed, purpose: .sampling, index: UInt64(round))
        var chosen: [Int] = []
        var next = 0
        let pool = candidates.sorted()
        for i in 0..<clients {
            let inRound = rng.nextDouble() < q
            while next < pool.count && pool[next] < i { next += 1 }
            if inRound && next < pool.count && pool[next] == i { chosen.append(i) }
        }
        return chosen
    }

    /// Fixed-size sampling over every client: `count` of the `clients` indices drawn as `sample`
    /// draws them from all of them, then the unavailable ones left out. A client's chance to be
    /// in the round is count / clients however many others are gone (with `sample` over the
    /// available ones it would grow as they leave, beyond what central DP's bound assumes).
    /// Returned ascending; may be empty.
    public static func sampleOverAll(available candidates: [Int], clients: Int, count: Int, seed: UInt64, round: Int) -> [Int] {
        let drawn = sample(from: Array(0..<clients), count: count, seed: seed, round: round)
        let pool = Set(candidates)
        return drawn.filter { pool.contains($0) }
    }

    mutating func startRound(_ round: Int, now: Double) -> [Action] {
        if configuration.wall != nil { return startWall(round, now: now) }
        var candidates: [Int] = []
        candidates.reserveCapacity(restrictedTo?.count ?? registeredCount)
        if let only = restrictedTo {
            // Ascending, as the scan below would give them.
            for i in only.sorted() where i >= 0 && i < configuration.clients && holder[i] >= 0 && !unresponsive.contains(i) && !excluded.contains(i) {
                candidates.append(i)
            }
        } else if unresponsive.isEmpty && excluded.isEmpty {
            for i in 0..<configuration.clients where holder[i] >= 0 { candidates.append(i) }
        } else {
            for i in 0..<configuration.clients where holder[i] >= 0 && !unresponsive.contains(i) && !excluded.contains(i) { candidates.append(i) }
        }
        let sampled: [Int]
        if let q = configuration.poissonRate {
            sampled = Self.poissonSample(from: candidates, clients: configuration.clients, rate: q, seed: configuration.samplingSeed, round: round)
        } else if configuration.sampleOverAllClients {
            sampled = Self.sampleOverAll(available: candidates, clients: configuration.clients, count: configuration.clientsPerRound,
                                         seed: configuration.samplingSeed, round: round)
        } else {
            sampled = Self.sample(from: candidates, count: configuration.clientsPerRound, seed: configuration.samplingSeed, round: round)
        }
        guard !sampled.isEmpty else {
            // Poisson sampling, or fixed-size sampling over every client, can draw nobody
            // available while clients are there: an empty round too.
            if ((configuration.poissonRate != nil || configuration.sampleOverAllClients) && !candidates.isEmpty)
                || ((!excluded.isEmpty || restrictedTo != nil) && (0..<configuration.clients).contains(where: { holder[$0] >= 0 && !unresponsive.contains($0) })) {
                // Everyone is offline or busy on the simulated clock: an empty round, not the end of the run.
                let empty = Training(round: round, sampled: [], deadline: now, pending: [])
                phase = .training(empty)
                return [.roundStarted(round: round, sampled: [])] + closeRound(empty)
            }
            return finish(success: false, reason: "no responsive clients left at round \(round) (\(registeredCount) registered, \(unresponsive.count) missed a deadline and went silent)")
        }
        let notAsked = Set(configuration.notAsked?(sampled) ?? [])
        let asked = notAsked.isEmpty ? sampled : sampled.filter { !notAsked.contains($0) }
        var t = Training(round: round, sampled: sampled, deadline: now + configuration.roundTimeout, pending: Set(asked))
        phase = .training(t)
        var actions: [Action] = [.roundStarted(round: round, sampled: sampled)]
        if asked.isEmpty { return actions + closeRound(t) }
        if let plan = configuration.secAgg {
            switch secAggStart(round: round, asked: asked, plan: plan, now: now) {
            case let .started(s): t.secAgg = s
            case let .refused(report):
                // Parameters that do not work for these clients (e.g. one client alone): nobody
                // trains for a round whose sum could not be taken.
                t.pending = []
                return actions + closeRound(t, secAggReport: report)
            }
        }
        // One MODEL and one TRAIN per process, however many of its clients were sampled.
        var bySlot: [Int32: [Int]] = [:]
        for i in asked { bySlot[holder[i], default: []].append(i) }
        let model = Message.model(ModelMessage(round: round, parameters: globalParameters))
        let modelBytes = WireCodec.encodedSize(model)
        for slot in bySlot.keys.sorted() {
            let peer = peers[Int(slot)]!.peer
            let train = Message.train(TrainMessage(round: round, clients: bySlot[slot]!, config: trainConfig))
            actions.append(.send(peer, model))
            actions.append(.send(peer, train))
            t.traffic.downSent += modelBytes + WireCodec.encodedSize(train)
        }
        // A TRAIN naming one client has the same size whichever client it names.
        let alone = modelBytes + WireCodec.encodedSize(.train(TrainMessage(round: round, clients: [0], config: trainConfig)))
        for i in asked { t.traffic.down[i] = alone }
        if t.secAgg != nil {
            // Stage 1 (advertise keys) goes out with TRAIN; the keys come back after training.
            let produced = t.secAgg!.server.start()
            let (sends, verdict) = carryOut(produced, &t, now: now)
            actions += sends
            if verdict != nil { return actions + closeRound(t) }
        }
        phase = .training(t)
        lastHeartbeat = now
        return actions
    }

    /// Checks that `peer` hosts `client` under `token`; the problem when it does not.
    func authenticate(client: Int, token: SessionToken, peer: Peer) -> IgnoredMessage.AuthenticationProblem? {
        guard client >= 0, client < configuration.clients else { return .outOfRange(client: client, clients: configuration.clients) }
        guard let slot = slotOfPeer[peer], holder[client] == slot else { return .notHosted(client: client) }
        guard token == tokens[client] else { return .wrongToken(client: client) }
        return nil
    }

    mutating func heardFrom(_ client: Int) -> [Action] {
        unresponsive.remove(client) != nil ? [.clientsResponsive([client])] : []
    }

    mutating func accept(_ update: UpdateMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: update.clientIndex, token: update.token, peer: peer) {
            return [.ignored(peer, .unauthenticated(.update, problem))]
        }
        let sender = update.clientIndex
        var actions = heardFrom(sender)
        if case .streaming = phase { return actions + acceptWall(update, from: peer, now: now) }
        guard case var .training(t) = phase else {
            return actions + [.ignored(peer, .betweenRounds(client: sender, round: update.round))]
        }
        guard update.round == t.round else {
            return actions + [.ignored(peer, .staleUpdate(client: sender, round: update.round, current: t.round))]
        }
        guard t.pending.remove(sender) != nil else {
            return actions + [.ignored(peer, t.sampled.contains(sender) ? .duplicateUpdate(client: sender, round: t.round)
                                                                        : .notSampled(client: sender, round: t.round))]
        }
        t.traffic.up[sender] = WireCodec.encodedSize(.update(update))
        if t.secAgg != nil {
            // The server must not see an update in clear in a SecAgg round: refused unread,
            // and its sender is out of the secure sum.
            t.rejected.append(Rejection(clientIndex: sender, reason: .inClearUnderSecAgg))
            let (sends, verdict) = secAggLost([sender], &t, now: now)
            if verdict != nil { return actions + sends + closeRound(t) }
            phase = .training(t)
            return actions + sends
        }
        switch Self.check(update, format: configuration.deltaFormat ?? .f32(parameterCount: configuration.parameterCount),
                          sizes: configuration.datasetSizes) {
        case let .success(checked): t.received[sender] = checked
        case let .failure(reason): t.rejected.append(Rejection(clientIndex: sender, reason: reason))
        }
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    /// The edge: a wire UPDATE becomes a checked `ClientUpdate`, or a reason it is rejected.
    /// The one place this happens; nothing past it sees an encoded payload, a wrong shape, a
    /// NaN, a bad metric or a weight input the server does not trust.
    public static func check(_ update: UpdateMessage, format: DeltaFormat, sizes: DatasetSizes) -> Result<ClientUpdate, RejectionReason> {
        let delta: [Float]
        switch update.payload {
        case let .f32(values) where format.encoding == .f32:
            // (An f32 delta in an f32 run is checked below, whose reasons name it.)
            delta = values
        default:
            do throws(DeltaDecodingError) { delta = try DeltaCodec.decode(update.payload, format: format) } catch {
                return .failure(.undecodable("\(error)"))
            }
        }
        if delta.count != format.parameterCount {
            return .failure(.wrongLength(values: delta.count, parameters: format.parameterCount))
        }
        if let bad = validateFinite(delta) { return .failure(.nonFiniteValue(index: bad, value: delta[bad])) }
        if update.samples <= 0 { return .failure(.nonPositiveSamples(update.samples)) }
        for (key, value) in update.metrics.sorted(by: { $0.key < $1.key }) where !value.isFinite {
            return .failure(.nonFiniteMetric(key: key, value: value))
        }
        var metrics = update.metrics
        metrics["dataset_size"] = sizes.size(of: update.clientIndex, reported: update.metrics["dataset_size"])
        return .success(ClientUpdate(clientIndex: update.clientIndex, samples: update.samples, metrics: metrics, delta: delta))
    }

    mutating func recordFailure(_ failure: FailureMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: failure.clientIndex, token: failure.token, peer: peer) {
            return [.ignored(peer, .unauthenticated(.failure, problem))]
        }
        let sender = failure.clientIndex
        var actions = heardFrom(sender)
        if case .streaming = phase { return actions + recordWallFailure(failure, from: peer, now: now) }
        guard case var .training(t) = phase, failure.round == t.round, t.pending.remove(sender) != nil else {
            return actions + [.ignored(peer, .failureNotPending(client: sender, round: failure.round))]
        }
        t.failures[sender] = failure
        t.traffic.up[sender] = WireCodec.encodedSize(.failure(failure))
        if t.secAgg != nil {
            let (sends, verdict) = secAggLost([sender], &t, now: now)
            if verdict != nil { return actions + sends + closeRound(t) }
            phase = .training(t)
            return actions + sends
        }
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    mutating func closeIfComplete(now: Double) -> [Action] {
        // A SecAgg round closes on its stage machine's verdict, not when TRAIN is answered.
        guard case let .training(t) = phase, t.pending.isEmpty, t.secAgg == nil else { return [] }
        return closeRound(t)
    }

    mutating func closeRound(_ t: Training, secAggReport: SecAggRoundReport? = nil) -> [Action] {
        var outcome = RoundOutcome(
            round: t.round, sampled: t.sampled,
            updates: t.received.keys.sorted().map { t.received[$0]! },
            failures: t.failures.keys.sorted().map { t.failures[$0]! },
            rejected: t.rejected.sorted { $0.clientIndex < $1.clientIndex },
            timedOut: t.pending.sorted(),
            lost: t.lost.sorted())
        outcome.traffic = t.traffic
        outcome.secAgg = secAggReport ?? t.secAgg?.report
        phase = .aggregating(round: t.round)
        unresponsive.formUnion(outcome.timedOut)
        return outcome.timedOut.isEmpty ? [.aggregate(outcome)] : [.clientsUnresponsive(outcome.timedOut), .aggregate(outcome)]
    }

    mutating func finish(success: Bool, reason: String) -> [Action] {
        if isFinished { return [] }
        phase = .done
        var actions: [Action] = []
        for slot in slotOfPeer.values.sorted() {
            actions.append(.send(peers[Int(slot)]!.peer, .shutdown(ShutdownMessage(reason: reason))))
        }
        if let ev = evaluator { actions.append(.send(ev.peer, .shutdown(ShutdownMessage(reason: reason)))) }
        actions.append(.finished(success: success, reason: reason))
        return actions
    }
}
