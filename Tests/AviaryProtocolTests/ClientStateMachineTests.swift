import Testing
import AviaryProtocol

/// One client process's protocol logic without sockets: registration, tokens, heartbeats,
/// reconnect back-off, shutdown.
@Suite struct ClientStateMachineTests {
    typealias Machine = ClientStateMachine

    func makeMachine(claims: [Int?] = [0, 2], serverTimeout: Double = 60) -> Machine {
        Machine(configuration: .init(processName: "proc-0", claims: claims, serverTimeout: serverTimeout,
                                     liveness: LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3),
                                     backoff: ReconnectBackoff(initialSeconds: 1, maximumSeconds: 32, jitter: 0), jitterSeed: 1))
    }

    func welcome(_ accepted: [(Int, SessionToken)], refused: [WelcomeMessage.Refused] = []) -> Message {
        .welcome(WelcomeMessage(accepted: accepted.map { .init(index: $0.0, token: $0.1) }, refused: refused,
                                heartbeatInterval: 1, liveness: 3, runSpec: Array("{}".utf8)))
    }

    func sent(_ actions: [Machine.Action]) -> [Message] {
        actions.compactMap { if case let .send(m) = $0 { m } else { nil } }
    }

    func hellos(_ actions: [Machine.Action]) -> [HelloMessage] {
        sent(actions).compactMap { if case let .hello(h) = $0 { h } else { nil } }
    }

    @Test func registersAllClaimsInOneHelloThenConfiguresOnce() {
        var m = makeMachine()
        let start = m.start(now: 0)
        #expect(hellos(start).first?.claims == [ClientClaim(index: 0), ClientClaim(index: 2)])
        let w = m.receive(welcome([(0, 11), (2, 22)]), now: 0.1)
        #expect(w.contains(.configure(runSpec: Array("{}".utf8))))
        #expect(m.hostedClients == [0, 2])
        #expect(m.tokens[2] == 22)
    }

    @Test func trainKeepsOnlyHostedClientsAndUpdatesCarryTheirTokens() {
        var m = makeMachine()
        _ = m.start(now: 0)
        _ = m.receive(welcome([(0, 11), (2, 22)]), now: 0)
        let t = m.receive(.train(TrainMessage(round: 1, clients: [0, 1, 2], config: [:])), now: 1)
        #expect(t == [.train(TrainMessage(round: 1, clients: [0, 2], config: [:]))])
        let u = m.trained(UpdateMessage(round: 1, clientIndex: 2, samples: 5, metrics: [:], delta: [1]), now: 2)
        guard case let .update(sentUpdate)? = sent(u).first else { Issue.record("no UPDATE"); return }
        #expect(sentUpdate.token == 22)
    }

    @Test func evaluateKeepsOnlyHostedClientsAndResultsCarryTheirTokens() {
        var m = makeMachine()
        _ = m.start(now: 0)
        _ = m.receive(welcome([(0, 11), (2, 22)]), now: 0)
        let e = m.receive(.evaluate(EvaluateMessage(round: 2, clients: [1, 2], config: ["robust": 1])), now: 1)
        #expect(e == [.evaluate(EvaluateMessage(round: 2, clients: [2], config: ["robust": 1]))])
        #expect(m.receive(.evaluate(EvaluateMessage(round: 2, clients: [1, 3])), now: 1).isEmpty, "none of ours: nothing to do")
        let r = m.evaluated(EvalResultMessage(round: 2, clientIndex: 2, samples: 30, metrics: ["loss": 1, "accuracy": 0.5]), now: 2)
        guard case let .evalResult(result)? = sent(r).first else { Issue.record("no EVAL_RESULT"); return }
        #expect(result.token == 22 && result.samples == 30)
        #expect(m.evaluated(EvalResultMessage(round: 2, clientIndex: 1, samples: 1, metrics: [:]), now: 2).isEmpty, "not hosted")
    }

    @Test func sendsHeartbeatsWhenIdleAndReconnectsWithTokensAfterSilence() {
        var m = makeMachine()
        _ = m.start(now: 0)
        _ = m.receive(welcome([(0, 11), (2, 22)]), now: 0)
        #expect(sent(m.tick(now: 1.0)) == [.heartbeat])
        _ = m.receive(.heartbeat, now: 2)
        // 3 missed heartbeats (3 s) after the last message: reconnect on a new connection.
        let lost = m.tick(now: 5.5)
        #expect(lost.first == .reconnect(reason: "the server has been silent for 4 s"))
        #expect(hellos(lost).first?.claims == [ClientClaim(index: 0, token: 11), ClientClaim(index: 2, token: 22)])
    }

    @Test func backOffDoublesWhileTheServerStaysAwayThenGivesUp() {
        var m = makeMachine(claims: [1], serverTimeout: 40)
        _ = m.start(now: 0)
        var attempts: [Double] = []
        var t = 0.0
        while t < 45, !m.isDone {
            t += 0.25
            if m.tick(now: t).contains(where: { if case .reconnect = $0 { true } else { false } }) { attempts.append(t) }
        }
        // Never sooner than this machine's liveness window (3 s: 3 × 1 s heartbeats), then the
        // back-off's 4, 8 and 16 s (no jitter in this test); the 40 s server timeout ends it.
        #expect(attempts == [3, 6, 10, 18, 34])
        #expect(m.isDone)
    }

    @Test func resetRegistersAgainAndAskTheHostToResendThisRound() {
        var m = makeMachine()
        _ = m.start(now: 0)
        _ = m.receive(welcome([(0, 11), (2, 22)]), now: 0)
        let r = m.receive(.reset(ResetMessage(reason: "restarted")), now: 1)
        #expect(hellos(r).first?.claims.map(\.token) == [11, 22])
        let again = m.receive(welcome([(0, 33), (2, 44)]), now: 1.1)
        // With the new WELCOME's run spec: a restarted server may have resumed (or be another run).
        #expect(again.contains(.reregistered(runSpec: Array("{}".utf8))))
        #expect(!again.contains { if case .configure = $0 { true } else { false } })
        #expect(m.tokens[0] == 33)  // a restarted server issues new tokens
    }

    @Test func aRefusalForGoodEndsTheProcessNamingTheClient() {
        var m = makeMachine(claims: [0, 9])
        _ = m.start(now: 0)
        let a = m.receive(welcome([(0, 1)], refused: [.init(reason: .stated("outside the topology's clients 0..<5"), retry: false, claims: 1, indices: [9...9])]), now: 0)
        #expect(a.contains(.exit(success: false, reason: "the server refused client 9: outside the topology's clients 0..<5")))
    }

    @Test func aRefusalForNowIsRetriedAfterTheBackOff() {
        var m = makeMachine(claims: [3])
        _ = m.start(now: 0)
        _ = m.receive(welcome([], refused: [.init(reason: .stated("held by a live process"), retry: true, claims: 1, indices: [3...3])]), now: 0.1)
        #expect(!m.isDone)
        let retry = m.tick(now: 1.2)
        #expect(hellos(retry).first?.claims == [ClientClaim(index: 3)])
        let w = m.receive(welcome([(3, 5)]), now: 1.3)
        #expect(w.contains(.configure(runSpec: Array("{}".utf8))))
    }

    @Test func serverAssignedClaimsAreCountedNotPinned() {
        var m = makeMachine(claims: [nil, nil])
        let h = hellos(m.start(now: 0))
        #expect(h.first?.claims == [ClientClaim(index: nil), ClientClaim(index: nil)])
        _ = m.receive(welcome([(4, 1), (5, 2)]), now: 0)
        #expect(m.hostedClients == [4, 5])
        #expect(sent(m.tick(now: 1)) == [.heartbeat])  // ready: nothing pending
    }

    @Test func shutdownSaysByeForEveryHostedClientAndExitsCleanly() {
        var m = makeMachine()
        _ = m.start(now: 0)
        _ = m.receive(welcome([(0, 11), (2, 22)]), now: 0)
        let s = m.receive(.shutdown(ShutdownMessage(reason: "completed 2 rounds")), now: 1)
        #expect(s == [.send(.bye(ByeMessage(clients: [0, 2]))), .exit(success: true, reason: "completed 2 rounds")])
        #expect(m.isDone)
    }
}
