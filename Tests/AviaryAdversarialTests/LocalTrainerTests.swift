import AviaryMath
import AviaryNN
import Testing
@testable import AviaryAdversarial

@Suite struct LocalTrainerTests {
    static let model = ModelSpec.mlp(inputs: 20, hidden: [16], classes: 3)
    static let data = SyntheticData(samples: 200, inputs: 20, classes: 3, seed: 21)
    static let attack = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.1, stepSize: 0.03, steps: 5)

    /// Trains a fresh network (init seed 1) for two epochs and returns its parameters and stats.
    func train(_ spec: AdversarialTrainingSpec, momentum: Float = 0, attackSeed: UInt64 = 3,
               maxSteps: Int? = nil) throws -> ([Float], LocalTrainingStats) {
        let net = try makeNetwork(Self.model, momentum: momentum)
        let trainer = try LocalTrainer(network: net, spec: spec, valueRange: 0...1)
        var stats = LocalTrainingStats()
        for epoch in 0..<2 {
            stats.add(trainer.trainEpoch(features: Self.data.features, labels: Self.data.labels, batchSize: 32,
                                         shuffleSeed: 8, epoch: epoch, attackSeed: attackSeed, maxSteps: maxSteps))
        }
        return (net.parametersArray(), stats)
    }

    @Test func cleanModeIsTheEnginesEpoch() throws {
        let reference = try makeNetwork(Self.model)
        for epoch in 0..<2 {
            _ = trainEpoch(network: reference, features: Self.data.features, labels: Self.data.labels, batchSize: 32,
                           shuffleSeed: 8, epoch: epoch)
        }
        let (whole, stats) = try train(.clean)
        #expect(whole == reference.parametersArray())
        // The explicit loop (taken when maxSteps is given) visits the same batches in the same order.
        let (looped, _) = try train(.clean, maxSteps: 1000)
        #expect(looped == whole)
        #expect(stats.steps == 2 * 7 && stats.samples == 400)
        #expect(stats.metrics["adv_loss"] == nil)
    }

    @Test func maxStepsStopsEarly() throws {
        let (_, stats) = try train(AdversarialTrainingSpec(mode: .pgd, attack: Self.attack), maxSteps: 3)
        #expect(stats.steps == 6 && stats.samples == 6 * 32)
        #expect(stats.metrics["local_steps"] == 6 && stats.metrics["samples"] == 192)
    }

    @Test func skippingCleanLossChangesMetricsNotParameters() throws {
        let spec = AdversarialTrainingSpec(mode: .pgd, attack: Self.attack)
        let (measured, withClean) = try train(spec)
        let net = try makeNetwork(Self.model)
        let trainer = try LocalTrainer(network: net, spec: spec, valueRange: 0...1)
        trainer.measuresCleanLoss = false
        var stats = LocalTrainingStats()
        for epoch in 0..<2 {
            stats.add(trainer.trainEpoch(features: Self.data.features, labels: Self.data.labels, batchSize: 32,
                                         shuffleSeed: 8, epoch: epoch, attackSeed: 3, maxSteps: nil))
        }
        #expect(net.parametersArray() == measured)
        #expect(stats.metrics["train_loss"] == nil && withClean.metrics["train_loss"] != nil)
        #expect(stats.metrics["adv_loss"] == withClean.metrics["adv_loss"])
    }

    @Test(arguments: [AdversarialTrainingSpec.Mode.pgd, .mix, .trades])
    func sameSeedsGiveBitwiseIdenticalParameters(mode: AdversarialTrainingSpec.Mode) throws {
        let spec = AdversarialTrainingSpec(mode: mode, attack: Self.attack)
        let (a, statsA) = try train(spec)
        let (b, statsB) = try train(spec)
        let (c, _) = try train(spec, attackSeed: 4)
        #expect(a == b)
        #expect(statsA == statsB)
        #expect(a != c, "the attack seed must matter")
        #expect(a.allSatisfy { $0.isFinite })
    }

    @Test func adversarialModesReportAdversarialMetrics() throws {
        for mode in [AdversarialTrainingSpec.Mode.pgd, .mix, .trades] {
            let (_, stats) = try train(AdversarialTrainingSpec(mode: mode, attack: Self.attack))
            let m = stats.metrics
            #expect(Set(m.keys).isSuperset(of: ["train_loss", "train_accuracy", "adv_loss", "adv_accuracy", "local_steps", "samples"]))
            #expect(m["adv_accuracy"]! >= 0 && m["adv_accuracy"]! <= 1)
            // Examples crafted against the current parameters cost at least as much as clean ones.
            #expect(m["adv_loss"]! >= m["train_loss"]!, "\(mode): \(m)")
            #expect((m["trades_kl"] != nil) == (mode == .trades))
        }
    }

    /// Mix with λ = 1 is clean training; with λ = 0 it is PGD training on the same examples;
    /// TRADES with β = 0 is clean training. Momentum makes every mode take the
    /// accumulate-then-step path, so only summation order differs: tolerance 1e-5.
    @Test func limitsOfTheMixedObjectivesAreThePlainOnes() throws {
        let (clean, _) = try train(.clean, momentum: 0.5)
        let (pgd, _) = try train(AdversarialTrainingSpec(mode: .pgd, attack: Self.attack), momentum: 0.5)
        let (mixClean, _) = try train(AdversarialTrainingSpec(mode: .mix, attack: Self.attack, mixLambda: 1), momentum: 0.5)
        let (mixAdversarial, _) = try train(AdversarialTrainingSpec(mode: .mix, attack: Self.attack, mixLambda: 0), momentum: 0.5)
        let (tradesClean, _) = try train(AdversarialTrainingSpec(mode: .trades, attack: Self.attack, tradesBeta: 0), momentum: 0.5)
        #expect(maxAbsDifference(mixClean, clean) < 1e-5)
        #expect(maxAbsDifference(mixAdversarial, pgd) < 1e-5)
        #expect(maxAbsDifference(tradesClean, clean) < 1e-5)
        #expect(maxAbsDifference(pgd, clean) > 1e-3, "adversarial training must change the result")
    }

    /// An explicit order (the equivalence test's entry point) trains exactly as the seeded epoch
    /// when it is that epoch's permutation, for every mode.
    @Test(arguments: [AdversarialTrainingSpec.Mode.none, .pgd, .mix, .trades])
    func givenOrderMatchesTheSeededEpoch(_ mode: AdversarialTrainingSpec.Mode) throws {
        let spec = AdversarialTrainingSpec(mode: mode, attack: Self.attack)
        let view = SampleView(features: Self.data.features, labels: Self.data.labels, width: Self.data.inputs)
        let seeded = try makeNetwork(Self.model), given = try makeNetwork(Self.model)
        let a = try LocalTrainer(network: seeded, spec: spec, valueRange: 0...1)
        let b = try LocalTrainer(network: given, spec: spec, valueRange: 0...1)
        let sa = a.trainEpoch(samples: view, batchSize: 32, shuffleSeed: 8, epoch: 1, attackSeed: 3, maxSteps: nil)
        var shuffle = RandomStream(seed: 8, purpose: .shuffle, index: 1)
        let sb = b.trainEpoch(samples: view, order: shuffle.permutation(view.count), batchSize: 32, epoch: 1,
                              attackSeed: 3, maxSteps: nil)
        #expect(seeded.parametersArray() == given.parametersArray())
        #expect(sa == sb && sb.steps == 7 && sb.samples == 200)
        // A shorter order trains on those samples only.
        let short = try makeNetwork(Self.model)
        let s = try LocalTrainer(network: short, spec: spec, valueRange: 0...1)
            .trainEpoch(samples: view, order: [5, 3, 1], batchSize: 2, epoch: 0, attackSeed: 3, maxSteps: nil)
        #expect(s.steps == 2 && s.samples == 3)
    }
}

@Suite struct RobustEvaluationTests {
    @Test func zeroBudgetIsCleanEvaluationOfTheSubset() throws {
        let data = SyntheticData(samples: 100, inputs: 20, classes: 3, seed: 4)
        let net = try makeNetwork(.mlp(inputs: 20, hidden: [16], classes: 3))
        let none = AttackSpec(kind: .fgsm, norm: .linf, epsilon: 0)
        let all = RobustEvaluation.evaluate(network: net, features: data.features, labels: data.labels, attack: none,
                                            valueRange: 0...1, subset: 1000, batchSize: 32, seed: 1)
        let clean = net.evaluate(features: data.features, labels: data.labels, batchSize: 32)
        #expect(all.count == 100 && all.correct == clean.correct)
        #expect(abs(all.lossSum - clean.lossSum) < 1e-4)
        let part = RobustEvaluation.evaluate(network: net, features: data.features, labels: data.labels, attack: none,
                                             valueRange: 0...1, subset: 30, batchSize: 32, seed: 1)
        #expect(part.count == 30)
    }

    @Test func attackedAccuracyIsNoHigherAndSeeded() throws {
        let data = SyntheticData(samples: 100, inputs: 20, classes: 3, seed: 4)
        let net = try makeNetwork(.mlp(inputs: 20, hidden: [16], classes: 3))
        _ = trainEpoch(network: net, features: data.features, labels: data.labels, batchSize: 10, shuffleSeed: 1, epoch: 0)
        let spec = RobustEvaluationSpec(attack: AttackSpec(epsilon: 0.2, stepSize: 0.05, steps: 10), subset: 100)
        let a = RobustEvaluation.evaluate(network: net, features: data.features, labels: data.labels, spec: spec,
                                          valueRange: 0...1, batchSize: 32, seed: 5)
        let b = RobustEvaluation.evaluate(network: net, features: data.features, labels: data.labels, spec: spec,
                                          valueRange: 0...1, batchSize: 32, seed: 5)
        let clean = net.evaluate(features: data.features, labels: data.labels, batchSize: 32)
        #expect(a == b)
        #expect(a.correct <= clean.correct && a.lossSum > clean.lossSum)
    }
}
