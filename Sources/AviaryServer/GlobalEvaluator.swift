import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryNN

/// Evaluates the global model on the server's held-out split: clean loss and accuracy every
/// eval round, PGD-robust accuracy on a fixed seeded subset when the topology asks for it.
final class GlobalEvaluator {
    let network: Network
    let test: Dataset
    let robust: RobustEvaluationSpec?
    let seed: UInt64
    static let batchSize = 256

    /// Held apart from `test` when a validation fraction is set; nil otherwise.
    let validation: Dataset?

    init(model: ModelSpec, test heldOut: Dataset, validationFraction: Double, robust: RobustEvaluationSpec?, seed: UInt64) throws {
        network = try Network(spec: model, maxBatch: Self.batchSize)
        (test, validation) = ValidationSplit.split(heldOut, fraction: validationFraction, seed: seed)
        self.robust = robust
        self.seed = seed
        try robust?.attack.validate(classes: model.classes)
    }

    /// The initial global model: PyTorch-default init from the training seed.
    func initialParameters(seed: UInt64) -> [Float] {
        network.initialise(seed: seed)
        return network.parametersArray()
    }

    func evaluate(_ parameters: [Float], robustRound: Bool) -> Evaluation {
        network.loadParameters(parameters)
        let clean = network.evaluate(samples: test.samples, batchSize: Self.batchSize)
        var result = Evaluation(cleanAccuracy: clean.accuracy, cleanLoss: clean.meanLoss, samples: clean.count)
        if let validation {
            let v = network.evaluate(samples: validation.samples, batchSize: Self.batchSize)
            result.validationLoss = v.meanLoss
            result.validationSamples = v.count
        }
        if robustRound, let robust {
            let adv = RobustEvaluation.evaluate(network: network, samples: test.samples,
                                                attack: robust.attack, valueRange: test.valueRange,
                                                subset: robust.subset, batchSize: Self.batchSize, seed: seed)
            result.robustAccuracy = adv.accuracy
            result.robustSamples = adv.count
            result.attack = robust.attack.summary
        }
        return result
    }
}
