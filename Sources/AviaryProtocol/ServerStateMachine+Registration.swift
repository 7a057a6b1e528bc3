import AviaryMath
import AviarySecAgg

/// Registration: claims, session tokens, hijack refusals, RESET, and losing a process.
extension ServerStateMachine {
    mutating func slot(for peer: Peer, name: String, now: Double) -> Int32 {
        if let s = slotOfPeer[peer] { return s }
        let state = PeerState(peer: peer, name: name, lastHeard: now, clients: [])
        let s: Int32
        if let free = freeSlots.popLast() { s = free; peers[Int(s)] = state } else { s = Int32(peers.count); peers.append(state) }
        slotOfPeer[peer] = s
        return s
    }

    mutating func bind(_ client: Int, to slot: Int32) {
        if holder[client] < 0 { registeredCount += 1 }
        holder[client] = slot
        peers[Int(slot)]!.clients.append(client)
    }

    mutating func newToken() -> SessionToken {
        while true { let t = tokenStream.next(); if t != 0 { return t } }
    }

    /// What `clientKey` may register under the allow-list, or why nothing: `.any` without one.
    func keyBinding(_ clientKey: String?) -> (binding: AllowList.Binding, refusal: RefusalReason?) {
        guard let list = configuration.allowList else { return (.any, nil) }
        guard let key = clientKey else { return (.indices([]), .unauthenticated) }
        guard let binding = list.binding(for: key) else { return (.indices([]), .keyNotAllowed(key: key)) }
        return (binding, nil)
    }

    mutating func register(_ hello: HelloMessage, peer: Peer, clientKey: String? = nil, now: Double) -> [Action] {
        if isFinished {
            return [.send(peer, .reject(RejectMessage(reason: "the run is over")))]
        }
        let (binding, keyRefusal) = keyBinding(clientKey)
        /// Why the key may not register `index`, if it may not.
        func bound(_ index: Int?) -> RefusalReason? {
            if let keyRefusal { return keyRefusal }
            guard let index, !binding.allows(index) else { return nil }
            return .keyBoundElsewhere(key: clientKey ?? "", binding: binding)
        }
        let n = configuration.clients
        let slot = self.slot(for: peer, name: hello.processName, now: now)
        var accepted: [WelcomeMessage.Accepted] = []
        var registration = Registration(processName: hello.processName, joined: [], reconnected: [], refused: [])
        var refusals = RefusalSummary()
        accepted.reserveCapacity(hello.claims.count)
        var seen = Set<Int>()
        var previousHolders = Set<Int32>()
        for claim in hello.claims {
            guard let index = claim.index else {
                if let why = bound(nil) {
                    refusals.refuse(nil, why)
                    continue
                }
                let index: Int
                if let ranges = binding.ranges {
                    // A bound key gets the lowest free index of its own binding.
                    guard let free = ranges.lazy.flatMap({ $0 }).first(where: { $0 < n && self.holder[$0] < 0 && !seen.contains($0) }) else {
                        refusals.refuse(nil, .noFreeBoundSlot(binding: binding))
                        continue
                    }
                    index = free
                } else {
                    while assignCursor < n && holder[assignCursor] >= 0 { assignCursor += 1 }
                    guard assignCursor < n else {
                        refusals.refuse(nil, .allSlotsTaken(clients: n))
                        continue
                    }
                    index = assignCursor
                }
                tokens[index] = newToken()
                bind(index, to: slot)
                seen.insert(index)
                registration.joined.append(index)
                accepted.append(.init(index: index, token: tokens[index]))
                continue
            }
            guard index >= 0, index < n else {
                refusals.refuse(index, .outsideTopology(clients: n))
                continue
            }
            guard seen.insert(index).inserted else {
                refusals.refuse(index, .claimedTwice)
                continue
            }
            if let why = bound(index) {
                refusals.refuse(index, why)
                continue
            }
            let current = holder[index]
            if current == slot {
                // A repeated HELLO on the same connection: idempotent, same token.
                accepted.append(.init(index: index, token: tokens[index]))
            } else if current >= 0 {
                if claim.token != 0 && claim.token == tokens[index] {
                    // The token proves the claimant is the client's registrant, so it takes the
                    // slot at once: the old connection is stale (the process replaced it, or the
                    // answer to an earlier HELLO went there), and waiting for liveness to drop it
                    // would only stall the client.
                    previousHolders.insert(current)
                    bind(index, to: slot)  // the process reconnected on a new connection
                    registration.reconnected.append(index)
                    accepted.append(.init(index: index, token: tokens[index]))
                } else {
                    // One entry for all held claims, naming the first holder (the summary stays small
                    // however many processes hold what this HELLO asks for).
                    refusals.refuse(index, .heldByLiveProcess(holder: peers[Int(current)]!.name))
                }
            } else if claim.token != 0 && claim.token == tokens[index] {
                // The process was dropped as lost (a link cut, a late WELCOME) and comes back with
                // the token it holds: it keeps that token. Issuing a new one would strand it when
                // the answer goes to a connection it has already replaced, since its next HELLO
                // would then carry a token the server no longer knows.
                bind(index, to: slot)
                registration.reconnected.append(index)
                accepted.append(.init(index: index, token: tokens[index]))
            } else {
                // A free slot: a token the claim presents becomes the client's token (a process
                // proposes one with its first claim, so that a retry after an answer it never saw
                // proves it is the same registrant); without one the server draws it.
                tokens[index] = claim.token != 0 ? claim.token : newToken()
                bind(index, to: slot)
                registration.joined.append(index)
                accepted.append(.init(index: index, token: tokens[index]))
            }
        }
        registration.refused = refusals.refused
        var actions: [Action] = [
            .send(peer, .welcome(WelcomeMessage(
                accepted: accepted, refused: registration.refused,
                heartbeatInterval: configuration.liveness.heartbeatIntervalSeconds,
                liveness: configuration.liveness.missedHeartbeats, runSpec: configuration.runSpec))),
            .registered(peer, registration),
        ]
        // Connections left without clients keep no state: one that had nothing accepted, or the
        // old connection of a process that re-registered everything on a new one.
        for s in previousHolders.union([slot]) where clients(of: s).isEmpty { release(slot: s) }
        // A registration after the run started is hearing from the client. The initial
        // registration of a resumed run is not: the marks it restored stay, as they would have
        // in the uninterrupted run, until the client answers a task.
        var registering = false
        if case .registering = phase { registering = true }
        if !registering, !registration.joined.isEmpty || !registration.reconnected.isEmpty {
            let back = (registration.joined + registration.reconnected).filter { unresponsive.contains($0) }
            if !back.isEmpty {
                unresponsive.subtract(back)
                actions.append(.clientsResponsive(back.sorted()))
            }
        }
        switch phase {
        case .registering where registeredCount >= configuration.minClientsToStart:
            actions += startRound(configuration.firstRound, now: now)
        case .training(let t):
            // Re-registered clients that were sampled and have not answered lost their TRAIN
            // with their old connection: send it again on the new one.
            let again = registration.reconnected.filter { t.pending.contains($0) }.sorted()
            if !again.isEmpty {
                let model = Message.model(ModelMessage(round: t.round, parameters: globalParameters))
                let train = Message.train(TrainMessage(round: t.round, clients: again, config: trainConfig))
                actions.append(.send(peer, model))
                actions.append(.send(peer, train))
                var t = t
                t.traffic.downSent += WireCodec.encodedSize(model) + WireCodec.encodedSize(train)
                phase = .training(t)
            }
        case .streaming:
            // Reconnected clients in flight start again; new ones may take free slots.
            actions += redispatchWall(registration.reconnected, peer: peer, now: now)
            if !isFinished { actions += fillWall(now: now) }
        default: break
        }
        return actions
    }

    mutating func release(slot: Int32) {
        guard let state = peers[Int(slot)] else { return }
        slotOfPeer[state.peer] = nil
        peers[Int(slot)] = nil
        freeSlots.append(slot)
    }

    func clients(of slot: Int32) -> [Int] {
        guard let state = peers[Int(slot)] else { return [] }
        return state.clients.filter { holder[$0] == slot }
    }

    mutating func reset(_ peer: Peer) -> [Action] {
        [.send(peer, .reset(ResetMessage(reason: "this server does not know this connection (it restarted, or dropped the process as dead); register again"))),
         .ignored(peer, .unregistered)]
    }

    mutating func leave(_ bye: ByeMessage, from peer: Peer, now: Double) -> [Action] {
        guard let slot = slotOfPeer[peer] else { return [] }
        let leaving = Set(bye.clients)
        let hosted = clients(of: slot)
        if hosted.allSatisfy({ leaving.contains($0) }) {
            return lose(slot: slot, reason: "it said goodbye", now: now)
        }
        for c in hosted where leaving.contains(c) { holder[c] = -1; registeredCount -= 1 }
        let left = hosted.filter { leaving.contains($0) }
        return dropFromRound(left, now: now) + dropFromEvaluation(left, now: now)
    }

    /// Unregisters every client of the process in `slot` and drops those pending in the round.
    mutating func lose(slot: Int32, reason: String, now: Double) -> [Action] {
        guard let state = peers[Int(slot)] else { return [] }
        let hosted = clients(of: slot)
        for c in hosted { holder[c] = -1 }
        registeredCount -= hosted.count
        release(slot: slot)
        var actions: [Action] = [.peerLost(state.peer, clients: hosted, reason: reason)]
        actions += dropFromRound(hosted, now: now)
        actions += dropFromEvaluation(hosted, now: now)
        return actions
    }

    mutating func dropFromRound(_ clients: [Int], now: Double) -> [Action] {
        if case .streaming = phase { return dropFromWall(clients, now: now) }
        guard case var .training(t) = phase else { return [] }
        let gone = clients.filter { t.pending.contains($0) }
        if t.secAgg != nil {
            // A lost process leaves the secure sum at whatever stage it reached, pending or not;
            // its sampled clients count as lost until the round's verdict.
            t.pending.subtract(gone)
            t.lost += clients.filter { t.sampled.contains($0) && !t.lost.contains($0) }
            let (sends, verdict) = secAggLost(clients, &t, now: now)
            if verdict != nil { return sends + closeRound(t) }
            phase = .training(t)
            return sends
        }
        guard !gone.isEmpty else { return [] }
        t.pending.subtract(gone)
        t.lost += gone
        phase = .training(t)
        return closeIfComplete(now: now)
    }
}
