import Testing
import AviaryLog
import AviaryProtocol
@testable import AviaryServer

/// The log's `eval` from EVAL_RESULTs (pure): sample-weighted means, per-client results, the
/// refused and missing ones, and the evaluator's own result.
@Suite struct EvaluationRecordTests {
    static func result(_ client: Int, samples: Int, loss: Double, accuracy: Double, robust: Double? = nil) -> EvalResultMessage {
        var metrics = ["loss": loss, "accuracy": accuracy]
        if let robust { metrics["robust_accuracy"] = robust }
        return EvalResultMessage(round: 3, clientIndex: client, samples: samples, metrics: metrics)
    }

    @Test func federatedIsTheSampleWeightedMeanWithEachClient() throws {
        let outcome = EvaluationOutcome(round: 2, asked: [0, 1, 2, 3],
                                        results: [Self.result(0, samples: 100, loss: 1, accuracy: 0.5, robust: 0.25),
                                                  Self.result(2, samples: 300, loss: 2, accuracy: 0.9)],
                                        refused: [.init(client: 1, reason: "metric 'loss' is nan, not a finite number")], missing: [3])
        let e = try #require(EvaluationRecord.make(outcome, mode: "federated"))
        #expect(e.samples == 400 && e.mode == "federated")
        #expect(abs(e.cleanLoss - 1.75) < 1e-12 && abs(e.cleanAccuracy - 0.8) < 1e-12)
        // Only client 0 reported a robust accuracy: the mean covers its samples alone.
        #expect(e.robustAccuracy == 0.25 && e.robustSamples == 100)
        #expect(e.clients?["2"] == ["loss": 2, "accuracy": 0.9, "samples": 300])
        #expect(e.refused?.map(\.client) == [1] && e.missing == [3])
    }

    @Test func theEvaluatorsResultIsTheEvalAndNoValidResultIsAProblem() throws {
        let evaluator = EvaluationOutcome(round: 1, asked: [-1], results: [Self.result(-1, samples: 50, loss: 0.3, accuracy: 0.7)],
                                          refused: [], missing: [])
        let e = try #require(EvaluationRecord.make(evaluator, mode: "evaluator"))
        #expect(e.cleanAccuracy == 0.7 && e.samples == 50 && e.clients == nil && e.refused == nil && e.missing == nil)

        let none = EvaluationOutcome(round: 4, asked: [-1], results: [], refused: [], missing: [-1])
        #expect(EvaluationRecord.make(none, mode: "evaluator") == nil)
        #expect(EvaluationRecord.problem(none) == "no valid evaluation of the model after round 4: no answer from the evaluator")
        let nobody = EvaluationOutcome(round: 5, asked: [], results: [], refused: [], missing: [])
        #expect(EvaluationRecord.problem(nobody).contains("nobody to ask"))
    }

    @Test func robustRoundsAskForTheRobustMetrics() {
        let plan = EvaluationPlan(federated: true, evaluator: false, every: 1, timeout: 5, robustEvery: 2)
        #expect(plan.config(round: 1, rounds: 5) == [:])
        #expect(plan.config(round: 2, rounds: 5) == ["robust": 1])
        #expect(plan.config(round: 5, rounds: 5) == ["robust": 1], "and after the last round")
        #expect(EvaluationPlan(federated: true, evaluator: false, every: 1, timeout: 5).config(round: 2, rounds: 5) == [:])
    }
}
