import Testing
import AviaryProtocol

/// The server's protocol logic without sockets: registration with tokens, hijacks, liveness,
/// rounds, per-process MODEL/TRAIN, resume's first round.
@Suite struct ServerStateMachineTests {
    typealias Machine = ServerStateMachine<String>

    static let liveness = LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3)

    func makeMachine(clients: Int = 3, perRound: Int = 3, rounds: Int = 2, params: Int = 4, timeout: Double = 100,
                     minClients: Int? = nil, firstRound: Int = 1) -> Machine {
        var m = Machine(configuration: .init(
            clients: clients, minClientsToStart: minClients ?? clients, clientsPerRound: perRound, rounds: rounds,
            firstRound: firstRound, parameterCount: params, roundTimeout: timeout, registrationTimeout: 30,
            liveness: Self.liveness, samplingSeed: 7, tokenSeed: 99, runSpec: Array("{}".utf8)))
        _ = m.start(parameters: [Float](repeating: 0, count: params), now: 0)
        return m
    }

    func sends(_ actions: [Machine.Action]) -> [(peer: String, message: Message)] {
        actions.compactMap { if case let .send(p, m) = $0 { (p, m) } else { nil } }
    }

    func outcome(_ actions: [Machine.Action]) -> RoundOutcome? {
        for a in actions { if case let .aggregate(o) = a { return o } }
        return nil
    }

    func welcome(_ actions: [Machine.Action], to peer: String) -> WelcomeMessage? {
        for s in sends(actions) where s.peer == peer { if case let .welcome(w) = s.message { return w } }
        return nil
    }

    func hello(_ indices: [Int?], tokens: [SessionToken]? = nil, name: String = "proc") -> Message {
        let claims = indices.enumerated().map { ClientClaim(index: $1, token: tokens?[$0] ?? 0) }
        return .hello(HelloMessage(processName: name, claims: claims))
    }

    func update(_ m: Machine, _ client: Int, round: Int = 1, delta: [Float] = [1, 1, 1, 1], samples: Int = 10) -> Message {
        .update(UpdateMessage(round: round, clientIndex: client, token: m.token(of: client), samples: samples,
                              metrics: ["train_loss": 0.5], delta: delta))
    }

    /// Registers client i on peer "p<i>".
    func registerEach(_ m: inout Machine, _ clients: Int, now: Double = 1) -> [Machine.Action] {
        var all: [Machine.Action] = []
        for i in 0..<clients { all += m.receive(hello([i]), from: "p\(i)", now: now) }
        return all
    }

    // MARK: Registration

    @Test func oneProcessRegistersManyClientsAndGetsOneModelAndOneTrain() {
        var m = makeMachine(clients: 6, perRound: 6)
        let actions = m.receive(hello([0, 1, 2]), from: "a", now: 1) + m.receive(hello([3, 4, 5]), from: "b", now: 1)
        #expect(welcome(actions, to: "a")?.accepted.map(\.index) == [0, 1, 2])
        #expect(m.currentRound == 1)
        let out = sends(actions)
        let models = out.filter { if case .model = $0.message { true } else { false } }
        let trains = out.compactMap { s -> (String, [Int])? in if case let .train(t) = s.message { (s.peer, t.clients) } else { nil } }
        #expect(models.map(\.peer).sorted() == ["a", "b"])  // once per process, not per client
        #expect(trains.sorted { $0.0 < $1.0 }.map(\.1) == [[0, 1, 2], [3, 4, 5]])
        #expect(m.peerCount == 2)
    }

    @Test func tokensAreDistinctNonZeroAndStableOnARepeatedHello() {
        var m = makeMachine(clients: 3, minClients: 4)
        let first = welcome(m.receive(hello([0, 1, 2]), from: "a", now: 1), to: "a")!
        let tokens = first.accepted.map(\.token)
        #expect(Set(tokens).count == 3 && !tokens.contains(0))
        let again = m.receive(hello([0, 1, 2]), from: "a", now: 2)
        #expect(welcome(again, to: "a")?.accepted.map(\.token) == tokens)
        // A repeated HELLO registers nobody new, so the loop logs nothing for it.
        let reg = again.compactMap { if case let .registered(_, r) = $0 { r } else { nil } }.first
        #expect(reg?.joined == [] && reg?.reconnected == [])
    }

    @Test func outOfRangeDuplicateAndFullClaimsAreRefusedWithReasons() {
        var m = makeMachine(clients: 2, minClients: 3)
        let w = welcome(m.receive(hello([5, 0, 0, nil, nil]), from: "a", now: 1), to: "a")!
        #expect(w.accepted.map(\.index) == [0, 1])  // the first nil takes the lowest free slot
        #expect(w.refused.count == 3)
        #expect(w.refused.contains { $0.indices == [5...5] && $0.reason.description.contains("outside the topology's clients 0..<2") && !$0.retry })
        #expect(w.refused.contains { $0.indices == [0...0] && $0.reason.description.contains("claimed twice") })
        #expect(w.refused.contains { $0.indices.isEmpty && $0.claims == 1 && $0.reason.description.contains("all 2 client slots are taken") })
    }

    @Test func aHelloForALiveClientWithoutItsTokenIsRefusedNotATakeover() {
        var m = makeMachine(clients: 2, minClients: 3)
        _ = m.receive(hello([0, 1]), from: "real", now: 1)
        let stolen = m.receive(hello([1], tokens: [12345]), from: "thief", now: 2)
        let w = welcome(stolen, to: "thief")!
        #expect(w.accepted.isEmpty)
        #expect(w.refused.first?.retry == true)
        #expect(w.refused.first?.reason.description.contains("session token") == true)
        #expect(m.peer(hosting: 1) == "real")
        #expect(m.peerCount == 1)  // the refused connection keeps no state
    }

    @Test func aReconnectedProcessTakesItsClientsBackWithTheirTokens() {
        var m = makeMachine(clients: 2, minClients: 3)
        let tokens = welcome(m.receive(hello([0, 1]), from: "old", now: 1), to: "old")!.accepted.map(\.token)
        let back = m.receive(hello([0, 1], tokens: tokens), from: "new", now: 2)
        #expect(welcome(back, to: "new")?.accepted.map(\.token) == tokens)
        let reg = back.compactMap { if case let .registered(_, r) = $0 { r } else { nil } }.first
        #expect(reg?.reconnected == [0, 1])
        #expect(m.peer(hosting: 0) == "new" && m.peerCount == 1)  // the old connection is forgotten
    }

    @Test func messagesFromAnUnknownConnectionAreAnsweredWithReset() {
        var m = makeMachine()
        let a = m.receive(.heartbeat, from: "stranger", now: 1)
        #expect(sends(a).contains { if case .reset = $0.message { $0.peer == "stranger" } else { false } })
        let b = m.receive(.update(UpdateMessage(round: 1, clientIndex: 0, samples: 1, metrics: [:], delta: [0, 0, 0, 0])), from: "stranger", now: 1)
        #expect(sends(b).contains { if case .reset = $0.message { true } else { false } })
    }

    // MARK: Rounds

    @Test func roundClosesWhenAllAnsweredAndOrdersUpdatesByClient() {
        var m = makeMachine()
        _ = registerEach(&m, 3)
        #expect(outcome(m.receive(update(m, 2), from: "p2", now: 2)) == nil)
        #expect(outcome(m.receive(update(m, 0), from: "p0", now: 2)) == nil)
        let o = outcome(m.receive(update(m, 1), from: "p1", now: 2))
        #expect(o?.updates.map(\.clientIndex) == [0, 1, 2])
        #expect(o?.timedOut == [] && o?.lost == [])
    }

    @Test func updatesWithAWrongTokenOrFromAnotherProcessAreIgnored() {
        var m = makeMachine()
        _ = registerEach(&m, 3)
        var forged = UpdateMessage(round: 1, clientIndex: 0, token: m.token(of: 0) &+ 1, samples: 1, metrics: [:], delta: [0, 0, 0, 0])
        let a = m.receive(.update(forged), from: "p0", now: 2)
        #expect(a.contains { if case let .ignored(_, why) = $0 { "\(why)".contains("wrong session token") } else { false } })
        forged.token = m.token(of: 0)
        let b = m.receive(.update(forged), from: "p1", now: 2)  // p1 does not host client 0
        #expect(b.contains { if case let .ignored(_, why) = $0 { "\(why)".contains("does not host") } else { false } })
        #expect(m.roundProgress?.answered == 0)
    }

    @Test func theEdgeWeighsBySizesTheServerDerivedOrCapsReportedOnes() throws {
        let update = UpdateMessage(round: 1, clientIndex: 1, samples: 5, metrics: ["dataset_size": 1e12, "samples": 9e9], delta: [1, 2])
        let format = DeltaFormat.f32(parameterCount: 2)
        let known = try Machine.check(update, format: format, sizes: .known([10, 20])).get()
        #expect(known.metrics["dataset_size"] == 20)
        // One rule for samples: the update's field, whatever a metric of that name says.
        #expect(known.samples == 5 && known.metrics["samples"] == 5)
        let capped = try Machine.check(update, format: format, sizes: .reported(cap: 1000)).get()
        #expect(capped.metrics["dataset_size"] == 1000)
        let silent = UpdateMessage(round: 1, clientIndex: 1, samples: 5, metrics: [:], delta: [1, 2])
        #expect(try Machine.check(silent, format: format, sizes: .reported(cap: 1000)).get().metrics["dataset_size"] == nil)
    }

    @Test func ignoredMessagesCarryTheirCategory() {
        var m = makeMachine()
        _ = registerEach(&m, 3)
        let serverOnly = m.receive(.model(ModelMessage(round: 1, parameters: [])), from: "p0", now: 2)
        #expect(serverOnly.contains { if case .ignored(_, .serverOnly(.model)) = $0 { true } else { false } })
        #expect(IgnoredMessage.serverOnly(.model).category == "server-only message")
        #expect("\(IgnoredMessage.serverOnly(.model))" == "sent model, which only the server sends")
        let foreign = m.receive(update(m, 1), from: "p0", now: 2)
        let why = foreign.compactMap { if case let .ignored(_, why) = $0 { why } else { nil } }.first
        #expect(why == .unauthenticated(.update, .notHosted(client: 1)))
        #expect(why?.category == "UPDATE for a client not hosted")
    }

    @Test func invalidUpdatesAreRejectedWithReasons() {
        var m = makeMachine()
        _ = registerEach(&m, 3)
        _ = m.receive(update(m, 0, delta: [1, 2]), from: "p0", now: 2)
        _ = m.receive(update(m, 1, delta: [1, .nan, 0, 0]), from: "p1", now: 2)
        let o = outcome(m.receive(update(m, 2, samples: 0), from: "p2", now: 2))!
        #expect(o.updates.isEmpty)
        #expect(o.rejected.map(\.clientIndex) == [0, 1, 2])
        #expect("\(o.rejected[0].reason)".contains("2 values, the model has 4"))
        #expect("\(o.rejected[1].reason)".contains("delta[1]"))
        #expect("\(o.rejected[2].reason)".contains("0 samples"))
    }

    /// `roundConfig` (adaptive clipping's clip norm) rides in the next round's TRAIN over the
    /// fixed task config.
    @Test func theRoundConfigRidesInTheNextRoundsTrain() {
        var m = makeMachine(rounds: 3, timeout: 10)
        m.roundConfig = ["clip_norm": 0.5]
        let first = registerEach(&m, 3, now: 0)
        let trains = { (a: [Machine.Action]) in self.sends(a).compactMap { if case let .train(t) = $0.message { t } else { nil } } }
        #expect(!trains(first).isEmpty && trains(first).allSatisfy { $0.config == ["clip_norm": 0.5] })
        for c in 0..<3 { _ = m.receive(update(m, c), from: "p\(c)", now: 1) }
        m.roundConfig = ["clip_norm": 0.25]
        let next = m.roundCompleted(parameters: [1, 1, 1, 1], now: 2)
        #expect(!trains(next).isEmpty && trains(next).allSatisfy { $0.round == 2 && $0.config == ["clip_norm": 0.25] })
    }

    @Test func deadlineClosesTheRoundAndTimedOutClientsSitOutUntilHeardFrom() {
        var m = makeMachine(rounds: 3, timeout: 10)
        _ = registerEach(&m, 3, now: 0)
        _ = m.receive(update(m, 0), from: "p0", now: 1)
        _ = m.receive(update(m, 1), from: "p1", now: 1)
        // p2 keeps its connection alive but its client never answers.
        _ = m.receive(.heartbeat, from: "p2", now: 9)
        let closing = m.tick(now: 10)
        #expect(outcome(closing)?.timedOut == [2])
        #expect(closing.contains { if case .clientsUnresponsive([2]) = $0 { true } else { false } })
        let next = m.roundCompleted(parameters: [1, 1, 1, 1], now: 10)
        guard case let .roundStarted(2, sampled)? = next.first else { Issue.record("round 2 did not start"); return }
        #expect(sampled == [0, 1])
        // Its late UPDATE for round 1 proves the client is alive: sampled again from round 3.
        let late = m.receive(update(m, 2, round: 1), from: "p2", now: 11)
        #expect(late.contains { if case .clientsResponsive([2]) = $0 { true } else { false } })
    }

    @Test func aDeadProcessIsDroppedFromTheRoundAtOnceAndSampledAgainWhenBack() {
        var m = makeMachine(rounds: 2)
        _ = registerEach(&m, 3, now: 0)
        _ = m.receive(update(m, 0), from: "p0", now: 1)
        _ = m.receive(update(m, 1), from: "p1", now: 1)
        _ = m.receive(.heartbeat, from: "p0", now: 3)
        _ = m.receive(.heartbeat, from: "p1", now: 3)
        // p2 is silent for more than 3 × 1 s: lost, and the round closes without waiting 100 s.
        let actions = m.tick(now: 3.5)
        #expect(actions.contains { if case let .peerLost(p, clients, _) = $0 { p == "p2" && clients == [2] } else { false } })
        let o = outcome(actions)
        #expect(o?.lost == [2] && o?.timedOut == [] && o?.updates.count == 2)
        #expect(m.registeredCount == 2)
        // A restarted process registers client 2 again (no token needed: its slot is free).
        let back = m.receive(hello([2]), from: "p2-restarted", now: 4)
        #expect(welcome(back, to: "p2-restarted")?.accepted.map(\.index) == [2])
        let next = m.roundCompleted(parameters: [0, 0, 0, 0], now: 4)
        guard case let .roundStarted(2, sampled)? = next.first else { Issue.record("round 2 did not start"); return }
        #expect(sampled == [0, 1, 2])
        #expect(sends(next).contains { $0.peer == "p2-restarted" })
    }

    @Test func aLostProcessComingBackWithItsTokenKeepsIt() {
        // Lost (link cut), then two HELLOs from the same process on successive connections: the
        // first answer may never reach it, so the second must still be accepted with the same token.
        var m = makeMachine(clients: 2, minClients: 3)
        let tokens = welcome(m.receive(hello([0, 1]), from: "a", now: 1), to: "a")!.accepted.map(\.token)
        _ = m.peerUnreachable("a", now: 2)
        #expect(m.peer(hosting: 0) == nil)
        let b = m.receive(hello([0, 1], tokens: tokens), from: "b", now: 3)
        #expect(welcome(b, to: "b")?.accepted.map(\.token) == tokens)
        #expect(b.compactMap { if case let .registered(_, r) = $0 { r } else { nil } }.first?.reconnected == [0, 1])
        let c = m.receive(hello([0, 1], tokens: tokens), from: "c", now: 4)
        #expect(welcome(c, to: "c")?.accepted.map(\.token) == tokens && welcome(c, to: "c")?.refused.isEmpty == true)
        #expect(m.peer(hosting: 1) == "c")
        // A wrong token on a free slot is a new registration with a new token, never the old one.
        _ = m.peerUnreachable("c", now: 5)
        let d = welcome(m.receive(hello([0], tokens: [tokens[0] &+ 1]), from: "d", now: 6), to: "d")
        #expect(d?.accepted.count == 1 && d?.accepted.first?.token != tokens[0])
    }

    @Test func anUnreachablePeerIsLostImmediately() {
        var m = makeMachine()
        _ = registerEach(&m, 3, now: 0)
        let actions = m.peerUnreachable("p1", now: 0.1)
        #expect(actions.contains { if case .peerLost("p1", [1], _) = $0 { true } else { false } })
        #expect(m.roundProgress?.answered == 1)  // lost counts as answered for the round's progress
    }

    @Test func reconnectedClientsThatWerePendingGetTheirTrainAgain() {
        var m = makeMachine(clients: 2, perRound: 2)
        let tokens = welcome(m.receive(hello([0, 1]), from: "old", now: 0), to: "old")!.accepted.map(\.token)
        #expect(m.currentRound == 1)
        let back = m.receive(hello([0, 1], tokens: tokens), from: "new", now: 1)
        let resent = sends(back).filter { $0.peer == "new" }.map(\.message)
        #expect(resent.contains { if case .model(let mm) = $0 { mm.round == 1 } else { false } })
        #expect(resent.contains { if case .train(let t) = $0 { t.clients == [0, 1] } else { false } })
    }

    @Test func heartbeatsGoOncePerProcessNotPerClient() {
        var m = makeMachine(clients: 4, minClients: 5)
        _ = m.receive(hello([0, 1, 2]), from: "a", now: 0)
        _ = m.receive(hello([3]), from: "b", now: 0)
        _ = m.receive(.heartbeat, from: "a", now: 0.9)
        _ = m.receive(.heartbeat, from: "b", now: 0.9)
        let beats = sends(m.tick(now: 1.0)).filter { $0.message == .heartbeat }
        #expect(beats.map(\.peer).sorted() == ["a", "b"])
    }

    @Test func finishesAfterLastRoundAndShutsEveryProcessDownOnce() {
        var m = makeMachine(clients: 4, perRound: 4, rounds: 1)
        _ = m.receive(hello([0, 1]), from: "a", now: 0)
        _ = m.receive(hello([2, 3]), from: "b", now: 0)
        for (c, p) in [(0, "a"), (1, "a"), (2, "b"), (3, "b")] { _ = m.receive(update(m, c), from: p, now: 1) }
        let end = m.roundCompleted(parameters: [0, 0, 0, 0], now: 1)
        let shutdowns = sends(end).filter { if case .shutdown = $0.message { true } else { false } }
        #expect(shutdowns.map(\.peer).sorted() == ["a", "b"])
        #expect(end.contains { if case .finished(true, _) = $0 { true } else { false } })
        #expect(m.isFinished)
    }

    @Test func aResumedRunStartsAtItsFirstRoundWithTheUnresponsiveSetRestored() {
        var m = Machine(configuration: .init(clients: 3, minClientsToStart: 3, clientsPerRound: 3, rounds: 5, firstRound: 4,
                                              parameterCount: 1, roundTimeout: 10, registrationTimeout: 10,
                                              liveness: Self.liveness, samplingSeed: 7, runSpec: []))
        _ = m.start(parameters: [0], unresponsive: [1], now: 0)
        _ = registerEach(&m, 3, now: 0)
        #expect(m.currentRound == 4)
        #expect(m.roundProgress?.sampled == 2)
    }

    @Test func registrationTimeoutFailsTheRun() {
        var m = makeMachine()
        _ = m.receive(hello([0]), from: "p0", now: 1)
        let a = m.tick(now: 31)
        #expect(a.contains { if case let .finished(false, reason) = $0 { reason.contains("only 1 of 3") } else { false } })
    }

    @Test func samplingIsSeededSortedAndWithoutReplacement() {
        let a = Machine.sample(from: Array(0..<100), count: 10, seed: 3, round: 5)
        #expect(a == Machine.sample(from: Array(0..<100).reversed(), count: 10, seed: 3, round: 5))
        #expect(a == a.sorted() && Set(a).count == 10)
        #expect(a != Machine.sample(from: Array(0..<100), count: 10, seed: 3, round: 6))
    }

    @Test func registeringAHundredThousandClientsInTwoHellosIsLinear() {
        var m = makeMachine(clients: 100_000, perRound: 100, params: 1, minClients: 100_000)
        let a = m.receive(hello(Array(stride(from: 0, to: 100_000, by: 2))), from: "a", now: 0)
        let b = m.receive(hello(Array(stride(from: 1, to: 100_000, by: 2))), from: "b", now: 0)
        #expect(welcome(a, to: "a")?.accepted.count == 50_000)
        #expect(welcome(b, to: "b")?.accepted.count == 50_000)
        #expect(m.registeredCount == 100_000)
        #expect(m.roundProgress?.sampled == 100)
    }
}
