/// Evaluation between rounds (protocol 5): the evaluator connection (HELLO role 1), EVALUATE to
/// the evaluating processes after an evaluation round's merge, and their EVAL_RESULTs. Hostile
/// results (a client not asked, a wrong token, the evaluator's index from another connection,
/// non-finite metrics) are ignored and counted, or refused with a reason; never a crash.
extension ServerStateMachine {
    /// The one live evaluator connection.
    struct EvaluatorState: Sendable {
        var peer: Peer
        var name: String
        var token: SessionToken
        var lastHeard: Double
    }

    struct Evaluating: Sendable {
        /// The round whose merged model is evaluated; EVALUATE and EVAL_RESULT carry `round + 1`.
        var round: Int
        var asked: [Int]
        var deadline: Double
        var pending: Set<Int>
        var results: [Int: EvalResultMessage] = [:]
        var refused: [Int: String] = [:]
        var lost: [Int] = []
    }

    /// Whether `peer` is the live evaluator connection.
    public func isEvaluator(_ peer: Peer) -> Bool { evaluator?.peer == peer }

    /// HELLO with role 1: accepted as index −1 with a token when the run evaluates with an
    /// evaluator and none is live; a second one is refused for now (`retry`), one in a run that
    /// takes none for good.
    mutating func registerEvaluator(_ hello: HelloMessage, peer: Peer, now: Double) -> [Action] {
        func refuse(_ reason: RefusalReason, retry: Bool) -> [Action] {
            let refused = WelcomeMessage.Refused(reason: reason, retry: retry, claims: 1, indices: [])
            return [.send(peer, .welcome(WelcomeMessage(accepted: [], refused: [refused],
                                                       heartbeatInterval: configuration.liveness.heartbeatIntervalSeconds,
                                                       liveness: configuration.liveness.missedHeartbeats, runSpec: configuration.runSpec))),
                    .registered(peer, Registration(processName: hello.processName, joined: [], reconnected: [], refused: [refused]))]
        }
        guard configuration.evaluation?.evaluator == true else {
            return refuse(.stated("this run takes no evaluator (the server evaluates the model itself, or [evaluation] asks the clients)"), retry: false)
        }
        guard hello.claims.isEmpty else { return refuse(.stated("an evaluator hosts no clients: its HELLO claims none"), retry: false) }
        guard slotOfPeer[peer] == nil else { return refuse(.stated("this connection hosts clients; an evaluator needs its own"), retry: false) }
        if let current = evaluator, current.peer != peer {
            _ = current
            return refuse(.evaluatorAlreadyConnected, retry: true)
        }
        let token = evaluator?.token ?? newToken()
        evaluator = EvaluatorState(peer: peer, name: hello.processName, token: token, lastHeard: now)
        var actions: [Action] = [
            .send(peer, .welcome(WelcomeMessage(accepted: [.init(index: EvalResultMessage.evaluatorIndex, token: token)], refused: [],
                                                heartbeatInterval: configuration.liveness.heartbeatIntervalSeconds,
                                                liveness: configuration.liveness.missedHeartbeats, runSpec: configuration.runSpec))),
            .registered(peer, Registration(processName: hello.processName, joined: [], reconnected: [], refused: [])),
        ]
        // An evaluator that (re)connects while its evaluation is pending is asked again.
        if case let .evaluating(e) = phase, e.pending.contains(EvalResultMessage.evaluatorIndex) {
            actions += evaluateMessages(round: e.round, clients: [], to: peer)
        }
        return actions
    }

    func evaluateMessages(round: Int, clients: [Int], to peer: Peer) -> [Action] {
        [.send(peer, .model(ModelMessage(round: round + 1, parameters: globalParameters))),
         .send(peer, .evaluate(EvaluateMessage(round: round + 1, clients: clients,
                                                config: configuration.evaluation?.config(round: round, rounds: configuration.rounds) ?? [:])))]
    }

    /// After `round`'s merge: evaluate now when the plan says so, else go on.
    mutating func afterMerge(_ round: Int, now: Double) -> [Action] {
        if let plan = configuration.evaluation, plan.isDue(round: round, rounds: configuration.rounds) {
            return startEvaluation(after: round, plan: plan, now: now)
        }
        return nextRound(after: round, now: now)
    }

    mutating func nextRound(after round: Int, now: Double) -> [Action] {
        round >= configuration.rounds ? finish(success: true, reason: "completed \(round) rounds") : startRound(round + 1, now: now)
    }

    mutating func startEvaluation(after round: Int, plan: EvaluationPlan, now: Double) -> [Action] {
        let registered = (0..<configuration.clients).filter { holder[$0] >= 0 }
        let clients = plan.evaluating(registered: registered, seed: configuration.samplingSeed, round: round)
        var actions: [Action] = []
        var asked: [Int] = []
        if plan.evaluator, let ev = evaluator {
            asked.append(EvalResultMessage.evaluatorIndex)
            actions += evaluateMessages(round: round, clients: [], to: ev.peer)
        }
        var bySlot: [Int32: [Int]] = [:]
        for c in clients { bySlot[holder[c], default: []].append(c) }
        for slot in bySlot.keys.sorted() { actions += evaluateMessages(round: round, clients: bySlot[slot]!, to: peers[Int(slot)]!.peer) }
        asked += clients
        let e = Evaluating(round: round, asked: asked, deadline: now + plan.timeout, pending: Set(asked))
        phase = .evaluating(e)
        lastHeartbeat = now
        return actions + closeEvaluationIfComplete(now: now)
    }

    mutating func acceptEvalResult(_ r: EvalResultMessage, from peer: Peer, now: Double) -> [Action] {
        if r.clientIndex == EvalResultMessage.evaluatorIndex {
            guard let ev = evaluator, ev.peer == peer else {
                return slotOfPeer[peer] == nil && !isEvaluator(peer) ? reset(peer) : [.ignored(peer, .unauthenticated(.evalResult, .notEvaluator))]
            }
            guard r.token == ev.token else { return [.ignored(peer, .unauthenticated(.evalResult, .wrongToken(client: r.clientIndex)))] }
        } else {
            if slotOfPeer[peer] == nil { return isEvaluator(peer) ? [.ignored(peer, .unauthenticated(.evalResult, .notHosted(client: r.clientIndex)))] : reset(peer) }
            if let problem = authenticate(client: r.clientIndex, token: r.token, peer: peer) {
                return [.ignored(peer, .unauthenticated(.evalResult, problem))]
            }
        }
        guard case var .evaluating(e) = phase, r.round == e.round + 1, e.pending.remove(r.clientIndex) != nil else {
            return [.ignored(peer, .evalResultNotPending(client: r.clientIndex, round: r.round))]
        }
        if let why = EvaluationOutcome.problem(r) { e.refused[r.clientIndex] = why } else { e.results[r.clientIndex] = r }
        phase = .evaluating(e)
        return closeEvaluationIfComplete(now: now)
    }

    mutating func closeEvaluationIfComplete(now: Double) -> [Action] {
        guard case let .evaluating(e) = phase, e.pending.isEmpty else { return [] }
        return closeEvaluation(e, now: now)
    }

    mutating func closeEvaluation(_ e: Evaluating, now: Double) -> [Action] {
        let outcome = EvaluationOutcome(
            round: e.round, asked: e.asked, results: e.results.keys.sorted().map { e.results[$0]! },
            refused: e.refused.keys.sorted().map { EvaluationOutcome.Refused(client: $0, reason: e.refused[$0]!) },
            missing: (Array(e.pending) + e.lost).sorted())
        phase = .aggregating(round: e.round)
        return [.evaluated(outcome)] + nextRound(after: e.round, now: now)
    }

    /// Clients (or the evaluator, −1) whose process is gone leave a pending evaluation.
    mutating func dropFromEvaluation(_ clients: [Int], now: Double) -> [Action] {
        guard case var .evaluating(e) = phase else { return [] }
        let gone = clients.filter { e.pending.contains($0) }
        guard !gone.isEmpty else { return [] }
        e.pending.subtract(gone)
        e.lost += gone
        phase = .evaluating(e)
        return closeEvaluationIfComplete(now: now)
    }

    /// The evaluator connection is gone (silent, unreachable, BYE).
    mutating func loseEvaluator(reason: String, now: Double) -> [Action] {
        guard let ev = evaluator else { return [] }
        evaluator = nil
        return [.peerLost(ev.peer, clients: [], reason: reason)] + dropFromEvaluation([EvalResultMessage.evaluatorIndex], now: now)
    }
}
