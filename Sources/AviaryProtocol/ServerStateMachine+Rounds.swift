import AviaryMath

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

    mutating func startRound(_ round: Int, now: Double) -> [Action] {
        var candidates: [Int] = []
        candidates.reserveCapacity(registeredCount)
        if unresponsive.isEmpty && excluded.isEmpty {
            for i in 0..<configuration.clients where holder[i] >= 0 { candidates.append(i) }
        } else {
            for i in 0..<configuration.clients where holder[i] >= 0 && !unresponsive.contains(i) && !excluded.contains(i) { candidates.append(i) }
        }
        let sampled = Self.sample(from: candidates, count: configuration.clientsPerRound,
                                  seed: configuration.samplingSeed, round: round)
        guard !sampled.isEmpty else {
            if !excluded.isEmpty && (0..<configuration.clients).contains(where: { holder[$0] >= 0 && !unresponsive.contains($0) }) {
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
        // One MODEL and one TRAIN per process, however many of its clients were sampled.
        var bySlot: [Int32: [Int]] = [:]
        for i in asked { bySlot[holder[i], default: []].append(i) }
        let model = Message.model(ModelMessage(round: round, parameters: globalParameters))
        let modelBytes = WireCodec.encodedSize(model)
        for slot in bySlot.keys.sorted() {
            let peer = peers[Int(slot)]!.peer
            let train = Message.train(TrainMessage(round: round, clients: bySlot[slot]!, config: configuration.taskConfig))
            actions.append(.send(peer, model))
            actions.append(.send(peer, train))
            t.traffic.downSent += modelBytes + WireCodec.encodedSize(train)
        }
        // A TRAIN naming one client has the same size whichever client it names.
        let alone = modelBytes + WireCodec.encodedSize(.train(TrainMessage(round: round, clients: [0], config: configuration.taskConfig)))
        for i in asked { t.traffic.down[i] = alone }
        phase = .training(t)
        lastHeartbeat = now
        return actions
    }

    /// Checks that `peer` hosts `client` under `token`; a reason when it does not.
    func authenticate(client: Int, token: SessionToken, peer: Peer) -> String? {
        guard client >= 0, client < configuration.clients else { return "names client \(client), outside 0..<\(configuration.clients)" }
        guard let slot = slotOfPeer[peer], holder[client] == slot else { return "names client \(client), which this connection does not host" }
        guard token == tokens[client] else { return "carries the wrong session token for client \(client)" }
        return nil
    }

    mutating func heardFrom(_ client: Int) -> [Action] {
        unresponsive.remove(client) != nil ? [.clientsResponsive([client])] : []
    }

    mutating func accept(_ update: UpdateMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: update.clientIndex, token: update.token, peer: peer) {
            return [.ignored(peer, "UPDATE \(problem)")]
        }
        let sender = update.clientIndex
        var actions = heardFrom(sender)
        guard case var .training(t) = phase else {
            return actions + [.ignored(peer, "UPDATE for round \(update.round) from client \(sender) arrived between rounds")]
        }
        guard update.round == t.round else {
            return actions + [.ignored(peer, "stale UPDATE from client \(sender) for round \(update.round) (current round \(t.round))")]
        }
        guard t.pending.remove(sender) != nil else {
            let why = t.sampled.contains(sender) ? "duplicate UPDATE from client \(sender)" : "UPDATE from client \(sender), which was not sampled"
            return actions + [.ignored(peer, "\(why) in round \(t.round)")]
        }
        t.traffic.up[sender] = WireCodec.encodedSize(.update(update))
        // Decoded here, on arrival: everything past this point sees a dense, checked f32 delta.
        var update = update
        let format = configuration.deltaFormat ?? .f32(parameterCount: configuration.parameterCount)
        // (An f32 delta in an f32 run goes straight to `problem(with:)`, whose reasons name it.)
        if update.payload.tag != 0 || format.encoding != .f32 {
            do throws(DeltaDecodingError) {
                update.payload = .f32(try DeltaCodec.decode(update.payload, format: format))
            } catch {
                t.rejected.append(Rejected(client: sender, reason: "\(error)"))
                phase = .training(t)
                return actions + closeIfComplete(now: now)
            }
        }
        if let reason = Self.problem(with: update, parameterCount: configuration.parameterCount) {
            t.rejected.append(Rejected(client: sender, reason: reason))
        } else {
            t.received[sender] = update
        }
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    /// Why an update cannot be merged, or nil. This is the edge: nothing past it sees a wrong
    /// shape, a NaN or a bad metric.
    public static func problem(with update: UpdateMessage, parameterCount: Int) -> String? {
        if update.delta.count != parameterCount {
            return "delta has \(update.delta.count) values, the model has \(parameterCount)"
        }
        if let bad = validateFinite(update.delta) {
            return "delta[\(bad)] is \(update.delta[bad])"
        }
        if update.samples <= 0 {
            return "reported \(update.samples) samples"
        }
        for (key, value) in update.metrics.sorted(by: { $0.key < $1.key }) where !value.isFinite {
            return "metric \(key) is \(value)"
        }
        return nil
    }

    mutating func recordFailure(_ failure: FailureMessage, from peer: Peer, now: Double) -> [Action] {
        if slotOfPeer[peer] == nil { return reset(peer) }
        if let problem = authenticate(client: failure.clientIndex, token: failure.token, peer: peer) {
            return [.ignored(peer, "FAILURE \(problem)")]
        }
        let sender = failure.clientIndex
        var actions = heardFrom(sender)
        guard case var .training(t) = phase, failure.round == t.round, t.pending.remove(sender) != nil else {
            return actions + [.ignored(peer, "FAILURE from client \(sender) for round \(failure.round) is not for a pending task")]
        }
        t.failures[sender] = failure
        t.traffic.up[sender] = WireCodec.encodedSize(.failure(failure))
        phase = .training(t)
        actions += closeIfComplete(now: now)
        return actions
    }

    mutating func closeIfComplete(now: Double) -> [Action] {
        guard case let .training(t) = phase, t.pending.isEmpty else { return [] }
        return closeRound(t)
    }

    mutating func closeRound(_ t: Training) -> [Action] {
        var outcome = RoundOutcome(
            round: t.round, sampled: t.sampled,
            updates: t.received.keys.sorted().map { t.received[$0]! },
            failures: t.failures.keys.sorted().map { t.failures[$0]! },
            rejected: t.rejected.sorted { $0.client < $1.client },
            timedOut: t.pending.sorted(),
            lost: t.lost.sorted())
        outcome.traffic = t.traffic
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
        actions.append(.finished(success: success, reason: reason))
        return actions
    }
}
