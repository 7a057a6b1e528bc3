import Testing
import AviaryProtocol

/// Protocol 5's evaluation in the server's state machine, without sockets: the evaluator role,
/// EVALUATE after evaluation rounds, EVAL_RESULTs checked and aggregated, hostile results
/// ignored or refused, deadlines and lost processes.
@Suite struct ServerEvaluationTests {
    typealias Machine = ServerStateMachine<String>

    func makeMachine(clients: Int = 2, rounds: Int = 2, every: Int = 1, federated: Bool = true, evaluator: Bool = false,
                     evaluating: Int? = nil) -> Machine {
        var config = Machine.Configuration(
            clients: clients, minClientsToStart: clients, clientsPerRound: clients, rounds: rounds, parameterCount: 2,
            roundTimeout: 100, registrationTimeout: 30, liveness: LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3),
            samplingSeed: 7, tokenSeed: 99, runSpec: Array("{}".utf8))
        config.evaluation = EvaluationPlan(federated: federated, clients: evaluating, evaluator: evaluator, every: every, timeout: 50)
        var m = Machine(configuration: config)
        _ = m.start(parameters: [0, 0], now: 0)
        return m
    }

    func sends(_ actions: [Machine.Action]) -> [(peer: String, message: Message)] {
        actions.compactMap { if case let .send(p, m) = $0 { (p, m) } else { nil } }
    }

    func evaluated(_ actions: [Machine.Action]) -> EvaluationOutcome? {
        for a in actions { if case let .evaluated(o) = a { return o } }
        return nil
    }

    func ignored(_ actions: [Machine.Action]) -> [IgnoredMessage] {
        actions.compactMap { if case let .ignored(_, why) = $0 { why } else { nil } }
    }

    func hello(_ indices: [Int], role: ProcessRole = .trainer, name: String = "proc") -> Message {
        .hello(HelloMessage(processName: name, role: role, claims: indices.map { ClientClaim(index: $0) }))
    }

    func result(_ m: Machine, _ client: Int, round: Int, loss: Double = 0.5, accuracy: Double = 0.8, samples: Int = 10,
                token: SessionToken? = nil) -> Message {
        .evalResult(EvalResultMessage(round: round, clientIndex: client, token: token ?? m.token(of: client), samples: samples,
                                      metrics: ["loss": loss, "accuracy": accuracy]))
    }

    /// Registers clients 0 and 1 on "a" and "b" and finishes round 1: the evaluation starts.
    func throughRoundOne(_ m: inout Machine) -> [Machine.Action] {
        _ = m.receive(hello([0]), from: "a", now: 1)
        _ = m.receive(hello([1]), from: "b", now: 1)
        for c in 0..<2 {
            _ = m.receive(.update(UpdateMessage(round: 1, clientIndex: c, token: m.token(of: c), samples: 5,
                                                metrics: ["train_loss": 1], delta: [1, 1])), from: c == 0 ? "a" : "b", now: 2)
        }
        return m.roundCompleted(parameters: [3, 4], now: 3)
    }

    @Test func federatedEvaluationSendsModelAndEvaluateThenStartsTheNextRound() throws {
        var m = makeMachine()
        let start = throughRoundOne(&m)
        #expect(m.isEvaluating)
        let out = sends(start)
        // MODEL(2) (the model after round 1's merge) and EVALUATE(2, that process's clients).
        #expect(out.contains { $0.peer == "a" && $0.message == .model(ModelMessage(round: 2, parameters: [3, 4])) })
        #expect(out.contains { $0.peer == "a" && $0.message == .evaluate(EvaluateMessage(round: 2, clients: [0])) })
        #expect(out.contains { $0.peer == "b" && $0.message == .evaluate(EvaluateMessage(round: 2, clients: [1])) })
        #expect(evaluated(m.receive(result(m, 0, round: 2, loss: 1, accuracy: 0.5, samples: 10), from: "a", now: 4)) == nil)
        let done = m.receive(result(m, 1, round: 2, loss: 0.25, accuracy: 1, samples: 30), from: "b", now: 4)
        let outcome = try #require(evaluated(done))
        #expect(outcome.round == 1)
        #expect(outcome.asked == [0, 1])
        let answered: [Int] = outcome.clients.map(\.clientIndex)
        #expect(answered == [0, 1])
        #expect(outcome.missing.isEmpty)
        let expectedLoss: Double = (10.0 * 1.0 + 30.0 * 0.25) / 40.0
        #expect(EvaluationOutcome.weightedMean("loss", over: outcome.clients)?.mean == expectedLoss)
        #expect(EvaluationOutcome.weightedMean("accuracy", over: outcome.clients)?.samples == 40)
        // Round 2's tasks follow in the same batch.
        #expect(m.currentRound == 2)
        #expect(!m.isEvaluating)
        #expect(sends(done).contains { if case let .train(t) = $0.message { t.round == 2 } else { false } })
    }

    @Test func theLastRoundIsEvaluatedBeforeTheRunFinishes() throws {
        var m = makeMachine(rounds: 1)
        _ = throughRoundOne(&m)
        #expect(m.isEvaluating)
        #expect(!m.isFinished)
        _ = m.receive(result(m, 0, round: 2), from: "a", now: 4)
        let end = m.receive(result(m, 1, round: 2), from: "b", now: 4)
        #expect(evaluated(end)?.round == 1)
        #expect(m.isFinished)
        #expect(end.contains { if case .finished(true, _) = $0 { true } else { false } })
    }

    @Test func hostileResultsAreIgnoredOrRefusedNeverMerged() throws {
        var m = makeMachine()
        _ = throughRoundOne(&m)
        // Wrong token, a client another connection hosts, another round, the evaluator's index.
        #expect(ignored(m.receive(result(m, 0, round: 2, token: 12345), from: "a", now: 4)) == [.unauthenticated(.evalResult, .wrongToken(client: 0))])
        #expect(ignored(m.receive(result(m, 1, round: 2), from: "a", now: 4)) == [.unauthenticated(.evalResult, .notHosted(client: 1))])
        #expect(ignored(m.receive(result(m, 0, round: 7), from: "a", now: 4)) == [.evalResultNotPending(client: 0, round: 7)])
        #expect(ignored(m.receive(result(m, -1, round: 2, token: 1), from: "a", now: 4)) == [.unauthenticated(.evalResult, .notEvaluator)])
        // A non-finite metric is refused with a reason; a duplicate after it is ignored.
        _ = m.receive(result(m, 0, round: 2, loss: .nan), from: "a", now: 4)
        #expect(ignored(m.receive(result(m, 0, round: 2), from: "a", now: 4)) == [.evalResultNotPending(client: 0, round: 2)])
        let outcome = try #require(evaluated(m.receive(result(m, 1, round: 2), from: "b", now: 4)))
        #expect(outcome.refused == [.init(client: 0, reason: "metric 'loss' is nan, not a finite number")])
        #expect(outcome.clients.map(\.clientIndex) == [1])
    }

    @Test func aLostProcessAndTheDeadlineCloseTheEvaluation() throws {
        var m = makeMachine()
        _ = throughRoundOne(&m)
        #expect(evaluated(m.peerUnreachable("a", now: 4)) == nil)
        let outcome = try #require(evaluated(m.tick(now: 3 + 50)))
        #expect(outcome.missing == [0, 1])
        #expect(outcome.results.isEmpty)
        #expect(m.currentRound == 2)
    }

    @Test func anEvaluatorIsAcceptedOnceAsIndexMinusOneAndEvaluatesOnTheTestSet() throws {
        var m = makeMachine(federated: false, evaluator: true)
        let welcome = m.receive(hello([], role: .evaluator, name: "ev"), from: "e", now: 1)
        guard case let .welcome(w)? = sends(welcome).first?.message else { Issue.record("no WELCOME"); return }
        #expect(w.accepted.count == 1)
        #expect(w.accepted.first?.index == -1)
        #expect(w.accepted.first?.token != 0)
        let token = w.accepted[0].token
        // A second evaluator is refused for now; one with claims, for good.
        guard case let .welcome(second)? = sends(m.receive(hello([], role: .evaluator), from: "e2", now: 1)).first?.message else { return }
        #expect(second.accepted.isEmpty)
        #expect(second.refused.first?.retry == true)
        let start = throughRoundOne(&m)
        #expect(sends(start).contains { $0.peer == "e" && $0.message == .evaluate(EvaluateMessage(round: 2, clients: [])) })
        #expect(!sends(start).contains { if case .evaluate = $0.message { $0.peer != "e" } else { false } })
        let done = m.receive(result(m, -1, round: 2, loss: 0.3, accuracy: 0.9, samples: 10000, token: token), from: "e", now: 4)
        #expect(try #require(evaluated(done)).evaluator?.samples == 10000)
    }

    @Test func aRunWithoutAnEvaluatorRefusesOneForGood() {
        var m = makeMachine(federated: true, evaluator: false)
        guard case let .welcome(w)? = sends(m.receive(hello([], role: .evaluator), from: "e", now: 1)).first?.message else {
            Issue.record("no WELCOME"); return
        }
        #expect(w.accepted.isEmpty)
        #expect(w.refused.first?.retry == false)
    }

    @Test func aSilentEvaluatorIsDroppedAndItsResultNoLongerAwaited() throws {
        var m = makeMachine(federated: false, evaluator: true)
        _ = m.receive(hello([], role: .evaluator, name: "ev"), from: "e", now: 1)
        _ = throughRoundOne(&m)
        // Clients keep talking; the evaluator stays silent past the liveness window.
        _ = m.receive(.heartbeat, from: "a", now: 4.5)
        _ = m.receive(.heartbeat, from: "b", now: 4.5)
        let actions = m.tick(now: 5)
        #expect(actions.contains { if case .peerLost("e", [], _) = $0 { true } else { false } })
        #expect(try #require(evaluated(actions)).missing == [-1])
    }

    @Test func aSampleOfClientsEvaluatesDeterministically() {
        let plan = EvaluationPlan(federated: true, clients: 3, evaluator: false, every: 1, timeout: 1)
        let a = plan.evaluating(registered: Array(0..<10), seed: 7, round: 4)
        #expect(a.count == 3)
        #expect(a == a.sorted())
        #expect(a == plan.evaluating(registered: Array((0..<10).reversed()), seed: 7, round: 4))
        #expect(plan.evaluating(registered: [1, 2], seed: 7, round: 4) == [1, 2])
    }
}
