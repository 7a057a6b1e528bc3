import Testing
import AviaryProtocol

/// Buffered mode on the wall clock (`[server] clock = "wall"`) as the state machine runs it:
/// slots filled from idle clients, arrivals buffered in the order received, a server update
/// per K arrivals, staleness against the version applied to, replacements on the newest model.
@Suite struct ServerStateMachineWallTests {
    typealias Machine = ServerStateMachine<String>

    func makeMachine(clients: Int = 6, concurrency: Int = 3, k: Int = 2, maxStaleness: Int? = nil, rounds: Int = 4,
                     timeout: Double = 100, firstRound: Int = 1) -> Machine {
        var configuration = Machine.Configuration(
            clients: clients, minClientsToStart: clients, clientsPerRound: clients, rounds: rounds, firstRound: firstRound,
            parameterCount: 2, roundTimeout: timeout, registrationTimeout: 30,
            liveness: LivenessSettings(heartbeatIntervalSeconds: 1000, missedHeartbeats: 3), samplingSeed: 7, tokenSeed: 99,
            runSpec: Array("{}".utf8))
        configuration.wall = WallSchedule(concurrency: concurrency, bufferSize: k, maxStaleness: maxStaleness)
        var m = Machine(configuration: configuration)
        _ = m.start(parameters: [0, 0], now: 0)
        return m
    }

    func sends(_ actions: [Machine.Action]) -> [(peer: String, message: Message)] {
        actions.compactMap { if case let .send(p, m) = $0 { (p, m) } else { nil } }
    }

    /// (round, clients) of every TRAIN in `actions`.
    func trains(_ actions: [Machine.Action]) -> [(round: Int, clients: [Int])] {
        sends(actions).compactMap { if case let .train(t) = $0.message { (t.round, t.clients) } else { nil } }
    }

    func models(_ actions: [Machine.Action]) -> [Int] {
        sends(actions).compactMap { if case let .model(m) = $0.message { m.round } else { nil } }
    }

    func outcome(_ actions: [Machine.Action]) -> RoundOutcome? {
        for a in actions { if case let .aggregate(o) = a { return o } }
        return nil
    }

    func update(_ m: Machine, _ client: Int, round: Int) -> Message {
        .update(UpdateMessage(round: round, clientIndex: client, token: m.token(of: client), samples: 10, metrics: ["train_loss": 0.5], delta: [1, 1]))
    }

    /// All clients on one process "p"; returns the machine and the clients started in round 1.
    func started(_ m: inout Machine, clients: Int = 6) -> [Int] {
        let actions = m.receive(.hello(HelloMessage(processName: "p", claims: (0..<clients).map { ClientClaim(index: $0, token: 0) })), from: "p", now: 1)
        return trains(actions).flatMap(\.clients)
    }

    @Test func slotsAreFilledOnceWithOneModelPerProcessAndRefilledAsArrivalsComeIn() throws {
        var m = makeMachine()
        let first = started(&m)
        #expect(first.count == 3 && Set(first).count == 3)
        #expect(m.currentRound == 1)
        // One arrival: buffered, its slot refilled on the same version without a second MODEL.
        let a = m.receive(update(m, first[0], round: 1), from: "p", now: 2)
        #expect(outcome(a) == nil)
        let refill = trains(a)
        #expect(refill.count == 1 && refill[0].round == 1 && refill[0].clients.count == 1 && !first.contains(refill[0].clients[0]))
        #expect(models(a).isEmpty, "the process already has version 0")
        // The second arrival fills K = 2: server update 1, in arrival order, nothing stale.
        let b = m.receive(update(m, first[2], round: 1), from: "p", now: 3)
        let o = try #require(outcome(b))
        #expect(o.round == 1 && o.updates.map(\.clientIndex) == [first[0], first[2]].sorted())
        #expect(o.wall?.buffer.map(\.client) == [first[0], first[2]] && o.wall?.buffer.map(\.staleness) == [0, 0])
        #expect(o.wall?.buffer.map(\.received) == [2, 3] && o.wall?.closed == 3)
        #expect(trains(b).isEmpty, "while update 1 merges, a freed slot waits for version 1")
    }

    @Test func arrivalsDuringTheMergeAreStaleAgainstTheVersionTheyAreAppliedTo() throws {
        var m = makeMachine(concurrency: 3, k: 2)
        let first = started(&m)
        _ = m.receive(update(m, first[0], round: 1), from: "p", now: 2)
        _ = m.receive(update(m, first[1], round: 1), from: "p", now: 3)  // update 1 merging
        // first[2] trained on version 0 and arrives while update 1 is merged: applied to version 1.
        #expect(outcome(m.receive(update(m, first[2], round: 1), from: "p", now: 4)) == nil)
        let next = m.roundCompleted(parameters: [1, 1], now: 5)
        #expect(m.currentRound == 2)
        // Version 1 goes out to the two free slots, with its MODEL.
        #expect(models(next) == [2] && trains(next).map(\.round) == [2] && trains(next).flatMap(\.clients).count == 2)
        let fresh = trains(next).flatMap(\.clients)
        let o = try #require(outcome(m.receive(update(m, fresh[0], round: 2), from: "p", now: 6)))
        #expect(o.round == 2 && o.wall?.buffer.map(\.client) == [first[2], fresh[0]] && o.wall?.buffer.map(\.staleness) == [1, 0])
        #expect(o.wall?.buffer.map(\.startVersion) == [0, 1])
    }

    @Test func updatesStalerThanTheLimitAreDiscardedAndReported() throws {
        // Concurrency 3, K 1 (FedAsync): a client started on version 0 arrives after two updates.
        var m = makeMachine(concurrency: 3, k: 1, maxStaleness: 1)
        let first = started(&m)
        #expect(outcome(m.receive(update(m, first[0], round: 1), from: "p", now: 2))?.round == 1)
        _ = m.roundCompleted(parameters: [1, 1], now: 3)
        #expect(outcome(m.receive(update(m, first[1], round: 1), from: "p", now: 4))?.wall?.buffer.map(\.staleness) == [1])
        let second = m.roundCompleted(parameters: [2, 2], now: 5)
        #expect(m.currentRound == 3 && outcome(second) == nil)
        // Staleness 2 > 1: discarded, its slot refilled on version 2; it shows in update 3's outcome.
        let late = m.receive(update(m, first[2], round: 1), from: "p", now: 6)
        #expect(outcome(late) == nil && trains(late).map(\.round) == [3])
        let fresh = trains(late)[0].clients[0]
        let o = try #require(outcome(m.receive(update(m, fresh, round: 3), from: "p", now: 7)))
        #expect(o.wall?.discarded.map(\.client) == [first[2]] && o.wall?.discarded.map(\.staleness) == [2])
        #expect(o.updates.map(\.clientIndex) == [fresh])
    }

    @Test func anUpdateMustAnswerTheClientsCurrentTask() {
        var m = makeMachine()
        let first = started(&m)
        let idle = (0..<6).first { !first.contains($0) }!
        let notInFlight = m.receive(update(m, idle, round: 1), from: "p", now: 2)
        #expect(notInFlight.contains { if case .ignored(_, .notSampled(idle, 1)) = $0 { true } else { false } })
        let wrongTag = m.receive(update(m, first[0], round: 2), from: "p", now: 2)
        #expect(wrongTag.contains { if case .ignored(_, .staleUpdate(first[0], 2, 1)) = $0 { true } else { false } })
        _ = m.receive(update(m, first[0], round: 1), from: "p", now: 3)
        let twice = m.receive(update(m, first[0], round: 1), from: "p", now: 3)
        #expect(twice.contains { if case .ignored = $0 { true } else { false } } && outcome(twice) == nil)
        // A malformed delta is rejected at the edge: the slot frees, nothing is buffered.
        let bad = Message.update(UpdateMessage(round: 1, clientIndex: first[1], token: m.token(of: first[1]), samples: 10, metrics: [:], delta: [1]))
        let rejected = m.receive(bad, from: "p", now: 4)
        #expect(outcome(rejected) == nil && trains(rejected).count == 1)
        let o = m.receive(update(m, first[2], round: 1), from: "p", now: 5)
        #expect(outcome(o)?.rejected.map(\.clientIndex) == [first[1]] && outcome(o)?.updates.count == 2)
    }

    @Test func failuresTimeoutsAndLostProcessesFreeTheirSlots() throws {
        var m = makeMachine(clients: 6, concurrency: 2, k: 2, timeout: 10)
        let hello = { (clients: [Int], name: String) in Message.hello(HelloMessage(processName: name, claims: clients.map { ClientClaim(index: $0, token: 0) })) }
        #expect(trains(m.receive(hello([0, 1, 2], "a"), from: "a", now: 1)).isEmpty, "not all registered yet")
        var flying = Set(trains(m.receive(hello([3, 4, 5], "b"), from: "b", now: 1)).flatMap(\.clients))
        #expect(flying.count == 2)
        func host(_ c: Int) -> String { c < 3 ? "a" : "b" }
        // A FAILURE frees the slot at once.
        let failed = flying.min()!
        let f = m.receive(.failure(FailureMessage(round: 1, clientIndex: failed, token: m.token(of: failed), reason: "oom")), from: host(failed), now: 2)
        flying.remove(failed)
        #expect(trains(f).flatMap(\.clients).count == 1)
        flying.formUnion(trains(f).flatMap(\.clients))
        #expect(flying.count == 2)
        // Past round_timeout from its start, a silent client is marked unresponsive and replaced;
        // the one started at 2 is not late yet at 11.
        let timed = try #require(flying.first { c in !trains(f).flatMap(\.clients).contains(c) })
        let t = m.tick(now: 11)
        #expect(t.contains { if case let .clientsUnresponsive(c) = $0 { c == [timed] } else { false } }, "\(t)")
        #expect(m.unresponsive.contains(timed))
        flying.remove(timed)
        flying.formUnion(trains(t).flatMap(\.clients))
        #expect(flying.count == 2)
        // Process a leaves: its clients' slots free, and the refill comes from b's idle ones.
        let onA = flying.filter { $0 < 3 }
        let lost = m.peerUnreachable("a", now: 12)
        #expect(lost.contains { if case .peerLost = $0 { true } else { false } })
        #expect(sends(lost).filter { if case .train = $0.message { true } else { false } }.allSatisfy { $0.peer == "b" })
        flying.subtract(onA)
        flying.formUnion(trains(lost).flatMap(\.clients))
        #expect(flying.allSatisfy { $0 >= 3 } && !flying.contains(timed))
        // The next update's outcome says all of it.
        var o: RoundOutcome? = nil
        for c in flying.sorted() where o == nil { o = outcome(m.receive(update(m, c, round: 1), from: "b", now: 13)) }
        let update1 = try #require(o)
        #expect(update1.failures.map(\.clientIndex) == [failed] && update1.timedOut == [timed] && update1.lost == onA.sorted())
    }

    @Test func theRunEndsAfterItsUpdatesAndStallsWhenNobodyIsLeft() throws {
        var m = makeMachine(clients: 2, concurrency: 2, k: 2, rounds: 1)
        let first = started(&m, clients: 2)
        _ = m.receive(update(m, first[0], round: 1), from: "p", now: 2)
        #expect(outcome(m.receive(update(m, first[1], round: 1), from: "p", now: 3)) != nil)
        let end = m.roundCompleted(parameters: [1, 1], now: 4)
        #expect(m.isFinished && end.contains { if case let .finished(ok, reason) = $0 { ok && reason == "completed 1 server updates" } else { false } })

        // Two clients, both fail: nothing in flight, the buffer cannot fill, nobody idle is left.
        var s = makeMachine(clients: 2, concurrency: 2, k: 2, timeout: 10)
        let both = started(&s, clients: 2)
        _ = s.tick(now: 20)  // both time out: unresponsive
        #expect(s.isFinished)
        _ = both
    }
}
