import Testing
import AviaryProtocol

@Suite struct ServerStateMachineTests {
    typealias Machine = ServerStateMachine<String>

    func makeMachine(clients: Int = 3, perRound: Int = 3, rounds: Int = 2, params: Int = 4, timeout: Double = 10) -> Machine {
        var m = Machine(configuration: .init(
            clients: clients, minClientsToStart: clients, clientsPerRound: perRound, rounds: rounds,
            parameterCount: params, roundTimeout: timeout, registrationTimeout: 30, heartbeatInterval: 1000,
            samplingSeed: 7, runSpec: Array("{}".utf8)))
        _ = m.start(parameters: [Float](repeating: 0, count: params), now: 0)
        return m
    }

    func sends(_ actions: [Machine.Action]) -> [(String, Message)] {
        actions.compactMap { if case let .send(p, m) = $0 { (p, m) } else { nil } }
    }

    func outcome(_ actions: [Machine.Action]) -> Machine.RoundOutcome? {
        for a in actions { if case let .aggregate(o) = a { return o } }
        return nil
    }

    func update(_ client: Int, round: Int = 1, delta: [Float] = [1, 1, 1, 1], samples: Int = 10) -> Message {
        .update(Update(round: round, clientIndex: client, samples: samples, metrics: ["train_loss": 0.5], delta: delta))
    }

    @Test func registersThenStartsRoundOneWithTasks() {
        var m = makeMachine()
        var all: [Machine.Action] = []
        for i in 0..<3 { all += m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        let welcomes = sends(all).filter { if case .welcome = $0.1 { true } else { false } }
        let tasks = sends(all).filter { if case .task = $0.1 { true } else { false } }
        #expect(welcomes.count == 3)
        #expect(tasks.count == 3)
        #expect(m.currentRound == 1)
    }

    @Test func outOfRangeAndTakenSlotsAreHandled() {
        var m = makeMachine()
        let a = m.receive(.hello(Hello(clientName: "x", requestedIndex: 9)), from: "p9", now: 1)
        #expect(sends(a).contains { if case .reject = $0.1 { true } else { false } })
        // Auto-assigned clients take the lowest free slot.
        let b = m.receive(.hello(Hello(clientName: "y", requestedIndex: nil)), from: "py", now: 1)
        #expect(sends(b).contains { if case let .welcome(w) = $0.1 { w.clientIndex == 0 } else { false } })
    }

    @Test func roundClosesWhenAllAnsweredAndOrdersUpdatesByClient() {
        var m = makeMachine()
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        #expect(outcome(m.receive(update(2), from: "p2", now: 2)) == nil)
        #expect(outcome(m.receive(update(0), from: "p0", now: 2)) == nil)
        let o = outcome(m.receive(update(1), from: "p1", now: 2))
        #expect(o?.updates.map(\.clientIndex) == [0, 1, 2])
        #expect(o?.timedOut == [])
    }

    @Test func invalidUpdatesAreRejectedWithReasons() {
        var m = makeMachine()
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        _ = m.receive(update(0, delta: [1, 2, 3]), from: "p0", now: 2)            // wrong length
        _ = m.receive(update(1, delta: [1, .nan, 3, 4]), from: "p1", now: 2)      // NaN
        let stale = m.receive(update(2, round: 7), from: "p2", now: 2)             // stale round
        #expect(stale.contains { if case .ignored = $0 { true } else { false } })
        let spoof = m.receive(update(0), from: "p2", now: 2)                       // claims another index
        let o = outcome(spoof)
        #expect(o?.rejected.map(\.client) == [0, 1, 2])
        #expect(o?.rejected[0].reason.contains("3 values") == true)
        #expect(o?.rejected[1].reason.contains("delta[1]") == true)
        #expect(o?.rejected[2].reason.contains("claims to be client 0") == true)
        #expect(o?.updates.isEmpty == true)
    }

    @Test func deadlineClosesRoundWithTimedOutClients() {
        var m = makeMachine(timeout: 5)
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        _ = m.receive(update(1), from: "p1", now: 2)
        #expect(outcome(m.tick(now: 5.9)) == nil)
        let o = outcome(m.tick(now: 6.1))
        #expect(o?.updates.map(\.clientIndex) == [1])
        #expect(o?.timedOut == [0, 2])
    }

    @Test func finishesAfterLastRoundAndShutsEveryoneDown() {
        var m = makeMachine(rounds: 1)
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        for i in 0..<3 { _ = m.receive(update(i), from: "p\(i)", now: 2) }
        let end = m.roundCompleted(parameters: [1, 1, 1, 1], now: 3)
        #expect(sends(end).filter { if case .shutdown = $0.1 { true } else { false } }.count == 3)
        #expect(end.contains { if case .finished(true, _) = $0 { true } else { false } })
        #expect(m.isFinished)
    }

    @Test func nextRoundCarriesNewParameters() {
        var m = makeMachine(rounds: 2)
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        for i in 0..<3 { _ = m.receive(update(i), from: "p\(i)", now: 2) }
        let next = m.roundCompleted(parameters: [9, 9, 9, 9], now: 3)
        let tasks = sends(next).compactMap { if case let .task(t) = $0.1 { t } else { nil } }
        #expect(tasks.count == 3)
        #expect(tasks.allSatisfy { $0.round == 2 && $0.parameters == [9, 9, 9, 9] })
    }

    @Test func timedOutClientsSitOutUntilHeardFrom() {
        var m = makeMachine(rounds: 3, timeout: 5)
        for i in 0..<3 { _ = m.receive(.hello(Hello(clientName: "c\(i)", requestedIndex: i)), from: "p\(i)", now: 1) }
        _ = m.receive(update(1), from: "p1", now: 2)
        _ = m.receive(update(2), from: "p2", now: 2)
        let closed = m.tick(now: 6.5)
        #expect(closed.contains { if case .clientsUnresponsive([0]) = $0 { true } else { false } })
        #expect(m.unresponsive == [0])
        let round2 = m.roundCompleted(parameters: [0, 0, 0, 0], now: 7)
        #expect(round2.contains { if case .roundStarted(2, [1, 2]) = $0 { true } else { false } }, "\(round2)")
        // Client 0 answers a heartbeat: it is back in the pool for round 3.
        let back = m.receive(.heartbeat(Heartbeat()), from: "p0", now: 8)
        #expect(back.contains { if case .clientResponsive(0) = $0 { true } else { false } })
        _ = m.receive(update(1, round: 2), from: "p1", now: 9)
        _ = m.receive(update(2, round: 2), from: "p2", now: 9)
        let round3 = m.roundCompleted(parameters: [0, 0, 0, 0], now: 10)
        #expect(round3.contains { if case .roundStarted(3, [0, 1, 2]) = $0 { true } else { false } }, "\(round3)")
    }

    @Test func registrationTimeoutFailsTheRun() {
        var m = makeMachine()
        _ = m.receive(.hello(Hello(clientName: "c0", requestedIndex: 0)), from: "p0", now: 1)
        let a = m.tick(now: 31)
        #expect(a.contains { if case .finished(false, _) = $0 { true } else { false } })
    }

    @Test func samplingIsSeededSortedAndWithoutReplacement() {
        let a = Machine.sample(from: Array(0..<100), count: 10, seed: 3, round: 4)
        let b = Machine.sample(from: Array(0..<100).reversed(), count: 10, seed: 3, round: 4)
        let c = Machine.sample(from: Array(0..<100), count: 10, seed: 3, round: 5)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count == 10 && a == a.sorted())
    }
}

@Suite struct ClientStateMachineTests {
    @Test func helloWelcomeTaskShutdown() {
        var m = ClientStateMachine(configuration: .init(name: "c", requestedIndex: 2, helloInterval: 1, serverTimeout: 10))
        #expect(m.start(now: 0) == [.send(.hello(Hello(clientName: "c", requestedIndex: 2)))])
        #expect(m.tick(now: 0.5) == [])
        #expect(m.tick(now: 1.1) == [.send(.hello(Hello(clientName: "c", requestedIndex: 2)))])
        #expect(m.receive(.welcome(Welcome(clientIndex: 2, runSpec: [1])), now: 2) == [.configure(clientIndex: 2, runSpec: [1])])
        let t = Task(round: 1, parameters: [0], config: [:])
        #expect(m.receive(.task(t), now: 3) == [.train(t)])
        let u = Update(round: 1, clientIndex: 2, samples: 1, metrics: [:], delta: [0])
        #expect(m.trained(u, now: 4) == [.send(.update(u))])
        #expect(m.receive(.shutdown(Shutdown(reason: "done")), now: 5) == [.send(.bye(Bye(clientIndex: 2))), .exit(success: true, reason: "done")])
        #expect(m.isDone)
    }

    @Test func answersHeartbeatsOnlyWhenIdleAndJoined() {
        var m = ClientStateMachine(configuration: .init(name: "c", requestedIndex: 0))
        _ = m.start(now: 0)
        #expect(m.receive(.heartbeat(Heartbeat()), now: 0.5) == [])
        _ = m.receive(.welcome(Welcome(clientIndex: 0, runSpec: [])), now: 1)
        #expect(m.receive(.heartbeat(Heartbeat()), now: 2) == [.send(.heartbeat(Heartbeat()))])
    }

    @Test func givesUpWhenServerIsSilent() {
        var m = ClientStateMachine(configuration: .init(name: "c", requestedIndex: nil, helloInterval: 100, serverTimeout: 10))
        _ = m.start(now: 0)
        _ = m.receive(.welcome(Welcome(clientIndex: 0, runSpec: [])), now: 1)
        #expect(m.tick(now: 10.5) == [])
        let a = m.tick(now: 11.5)
        #expect(a.count == 1)
        if case .exit(false, _) = a[0] {} else { Issue.record("expected exit, got \(a)") }
    }
}
