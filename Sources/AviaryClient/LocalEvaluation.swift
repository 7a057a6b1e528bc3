import AviaryAdversarial
import AviaryData
import AviaryNN
import AviaryProtocol

/// Federated evaluation (protocol 5's EVALUATE) for the built-in models: the model a MODEL
/// carried, scored on one hosted client's own held-out split.
extension LocalTraining {
    /// Client `index`'s EVAL_RESULT for `model` (token unset): mean cross-entropy `loss` and
    /// `accuracy` on its test split, and with `robust` = 1 in `config` and `[evaluation]`'s attack
    /// in the run spec, `robust_loss` and `robust_accuracy` on its seeded subset. Anything that
    /// keeps it from evaluating is the result's `error` (samples 0), never a thrown error.
    func evaluate(client index: Int, model: ModelMessage, config: [String: Double]) -> EvalResultMessage {
        func failure(_ why: String) -> EvalResultMessage {
            EvalResultMessage(round: model.round, clientIndex: index, samples: 0, metrics: [:], error: why)
        }
        let network: Network
        do { (network, _) = try trainer(for: index, valueRange: dataset.valueRange) } catch { return failure("\(error)") }
        guard model.parameters.count == network.parameterCount else {
            return failure("\(ClientError.wrongParameterCount(got: model.parameters.count, expected: network.parameterCount))")
        }
        let data: ClientData
        do { data = try dataset.client(index) } catch { return failure("client \(index) could not load its data: \(error)") }
        guard data.test.count > 0 else { return failure("client \(index) has no held-out samples in its partition") }
        network.loadParameters(model.parameters)
        let clean = network.evaluate(samples: data.test.samples, batchSize: spec.training.batchSize)
        var metrics = ["loss": clean.meanLoss, "accuracy": clean.accuracy]
        if config["robust"] == 1, let robust = spec.robustEvaluation {
            let adv = RobustEvaluation.evaluate(network: network, samples: data.test.samples, attack: robust.attack,
                                                valueRange: dataset.valueRange, subset: robust.subset,
                                                batchSize: spec.training.batchSize, seed: spec.trainingSeed)
            metrics["robust_loss"] = adv.meanLoss
            metrics["robust_accuracy"] = adv.accuracy
            metrics["robust_samples"] = Double(adv.count)
        }
        return EvalResultMessage(round: model.round, clientIndex: index, samples: clean.count, metrics: metrics)
    }
}
