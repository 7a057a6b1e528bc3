import AviaryMath
import AviaryNN
import Testing
@testable import AviaryAdversarial

/// The mixed and TRADES objectives' parameter gradients against central finite differences of
/// the objective itself, at fixed clean and adversarial batches.
@Suite struct ObjectiveGradientTests {
    static let batch = 6

    /// Fills the trainer's buffers with a clean batch, a perturbed copy and f(x).
    func prepare(_ trainer: LocalTrainer, _ net: Network, _ data: SyntheticData) {
        let d = data.inputs
        var rng = RandomStream(seed: 4, purpose: .other, index: 0)
        for i in 0..<(Self.batch * d) {
            trainer.batchInputs[i] = data.features[i]
            trainer.adversarial[i] = data.features[i] + Float(rng.uniform(-0.2, 0.2))
        }
        for i in 0..<Self.batch { trainer.batchLabels[i] = data.labels[i] }
        net.predictLogits(inputs: trainer.batchInputs, batch: Self.batch, into: trainer.cleanLogits)
    }

    /// The objective at the network's current parameters, in Double from inference logits.
    func objective(_ trainer: LocalTrainer, _ net: Network) -> Double {
        let b = Self.batch, c = net.spec.classes
        var clean = [Float](repeating: 0, count: b * c), adv = [Float](repeating: 0, count: b * c)
        net.predictLogits(inputs: trainer.batchInputs, batch: b, into: &clean)
        net.predictLogits(inputs: trainer.adversarial, batch: b, into: &adv)
        let ceClean = SoftmaxCrossEntropy.forward(logits: clean, labels: trainer.batchLabels, batch: b, classes: c).meanLoss
        let ceAdv = SoftmaxCrossEntropy.forward(logits: adv, labels: trainer.batchLabels, batch: b, classes: c).meanLoss
        switch trainer.spec.mode {
        case .mix:
            let l = Double(trainer.spec.mixLambda)
            return l * ceClean + (1 - l) * ceAdv
        case .trades:
            let kl = SoftmaxKL.divergence(cleanLogits: clean, adversarialLogits: adv, batch: b, classes: c, scale: 1,
                                          adversarialGradient: nil, cleanGradient: nil)
            return ceClean + Double(trainer.spec.tradesBeta) * kl / Double(b)
        default:
            return ceClean
        }
    }

    static let cases: [(AdversarialTrainingSpec, ModelSpec)] = [
        (AdversarialTrainingSpec(mode: .mix, mixLambda: 0.3), .logreg(inputs: 8, classes: 3)),
        (AdversarialTrainingSpec(mode: .trades, tradesBeta: 6), .logreg(inputs: 8, classes: 3)),
        (AdversarialTrainingSpec(mode: .mix, mixLambda: 0.3), .mlp(inputs: 8, hidden: [5], classes: 3)),
        (AdversarialTrainingSpec(mode: .trades, tradesBeta: 6), .mlp(inputs: 8, hidden: [5], classes: 3)),
    ]

    /// h = 1e-3 on every parameter (small enough that no ReLU input crosses 0 here), tolerance
    /// 2e-3 absolute (Float logits give ≈ 1e-4 of rounding noise in the difference quotient).
    @Test(arguments: 0..<cases.count)
    func parameterGradientMatchesFiniteDifferences(index: Int) throws {
        let (spec, model) = Self.cases[index]
        let data = SyntheticData(samples: Self.batch, inputs: 8, classes: 3, seed: 12)
        let net = try makeNetwork(model, maxBatch: Self.batch, seed: 3)
        let trainer = try LocalTrainer(network: net, spec: spec, valueRange: nil)
        prepare(trainer, net, data)
        var stats = LocalTrainingStats()
        switch spec.mode {
        case .mix: trainer.accumulateMixGradient(batch: Self.batch, stats: &stats)
        default: trainer.accumulateTradesGradient(batch: Self.batch, stats: &stats)
        }
        let analytic = net.withGradients { Array($0) }
        let base = net.parametersArray()
        let h: Float = 1e-3
        var worst = 0.0
        for i in 0..<base.count {
            var p = base
            p[i] = base[i] + h; net.loadParameters(p)
            let plus = objective(trainer, net)
            p[i] = base[i] - h; net.loadParameters(p)
            let minus = objective(trainer, net)
            worst = max(worst, abs((plus - minus) / Double(2 * h) - Double(analytic[i])))
        }
        net.loadParameters(base)
        #expect(worst < 2e-3, "\(spec.mode) on \(model.name): largest gradient error \(worst)")
        #expect(analytic.contains { abs($0) > 1e-2 }, "the gradient must not be trivially zero")
    }
}
