import AviaryLog
import AviaryProtocol

/// The log's `eval` for an evaluation the clients or the evaluator ran (protocol 5's
/// EVAL_RESULTs, collected by `ServerStateMachine`): a pure function of the outcome.
enum EvaluationRecord {
    /// Federated: the sample-weighted means of `loss`, `accuracy` and, when reported,
    /// `robust_loss`/`robust_accuracy` over the clients' valid results, plus each client's
    /// result. Evaluator: its result. nil when no valid result came (the refused and missing
    /// ones are then in `problem(outcome)`).
    static func make(_ outcome: EvaluationOutcome, mode: String) -> Evaluation? {
        let results = mode == "evaluator" ? outcome.evaluator.map { [$0] } ?? [] : outcome.clients
        guard let loss = EvaluationOutcome.weightedMean("loss", over: results),
              let accuracy = EvaluationOutcome.weightedMean("accuracy", over: results) else { return nil }
        var e = Evaluation(cleanAccuracy: accuracy.mean, cleanLoss: loss.mean, samples: accuracy.samples)
        if let robust = EvaluationOutcome.weightedMean("robust_accuracy", over: results) {
            e.robustAccuracy = robust.mean
            e.robustSamples = robust.samples
        }
        e.mode = mode
        if mode == "federated" {
            var byClient: [Int: [String: Double]] = [:]
            for r in results {
                var metrics = r.metrics
                metrics["samples"] = Double(r.samples)
                byClient[r.clientIndex] = metrics
            }
            e.clients = RoundRecord.byClient(byClient)
        }
        e.refused = outcome.refused.isEmpty ? nil : outcome.refused.map { ClientReason(client: $0.client, reason: $0.reason) }
        e.missing = outcome.missing.isEmpty ? nil : outcome.missing
        return e
    }

    /// Why an evaluation produced no `eval`, for the log's `evaluation_failed` note.
    static func problem(_ outcome: EvaluationOutcome) -> String {
        var parts: [String] = []
        if outcome.asked.isEmpty { parts.append("nobody to ask (no evaluating client or evaluator registered)") }
        for r in outcome.refused { parts.append("\(r.client == EvalResultMessage.evaluatorIndex ? "the evaluator" : "client \(r.client)"): \(r.reason)") }
        if !outcome.missing.isEmpty {
            parts.append("no answer from " + outcome.missing.map { $0 == EvalResultMessage.evaluatorIndex ? "the evaluator" : "client \($0)" }.joined(separator: ", "))
        }
        return "no valid evaluation of the model after round \(outcome.round): " + parts.joined(separator: "; ")
    }
}
