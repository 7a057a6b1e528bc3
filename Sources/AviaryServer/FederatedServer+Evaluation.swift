import AviaryLog
import AviaryProtocol
import AviaryTopology

/// `[evaluation] mode` "federated" and "evaluator": the state machine sends EVALUATE after the
/// merge of every evaluation round and collects the EVAL_RESULTs (ServerStateMachine+Evaluation);
/// the loop turns its outcome into the round's `eval` before the round's log line is written.
extension FederatedServer {
    /// The state machine's plan for `[evaluation] mode`; nil when the server evaluates itself.
    var evaluationPlan: EvaluationPlan? {
        let every = topology.server.evalEvery
        let robustEvery = topology.robustEvaluation?.every
        switch topology.evaluation.mode {
        case .server: return nil
        case .federated:
            return EvaluationPlan(federated: true, clients: topology.evaluation.clients, evaluator: false, every: every,
                                  timeout: topology.server.roundTimeout, robustEvery: robustEvery)
        case .evaluator:
            return EvaluationPlan(federated: false, evaluator: true, every: every, timeout: topology.server.roundTimeout,
                                  robustEvery: robustEvery)
        }
    }

    /// An evaluation is over: its aggregate becomes the `eval` of the round waiting to be
    /// written (the round whose merged model it evaluated); no valid result is a note instead.
    func recordEvaluation(_ outcome: EvaluationOutcome) throws {
        var eval = EvaluationRecord.make(outcome, mode: topology.evaluation.mode.rawValue)
        if eval?.robustAccuracy != nil { eval?.attack = topology.robustEvaluation?.attack.summary }
        if let eval, pendingWrite?.result.record.round == outcome.round {
            pendingWrite!.result.record.eval = eval
            return
        }
        let message = eval == nil ? EvaluationRecord.problem(outcome)
            : "the evaluation of round \(outcome.round)'s model came after its round was written: accuracy \(eval!.cleanAccuracy), loss \(eval!.cleanLoss)"
        logger.warning("evaluation without result", metadata: ["round": "\(outcome.round)", "reason": "\(message)"])
        try writer.append(.note(NoteRecord(event: "evaluation_failed", time: timestamp(), round: outcome.round, message: message)))
    }
}
