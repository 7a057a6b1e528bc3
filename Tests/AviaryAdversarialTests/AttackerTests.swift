import AviaryMath
import AviaryNN
import Testing
@testable import AviaryAdversarial

@Suite struct AttackerTests {
    /// logreg 2→2 with W = I, b = 0: logits = x, so ∂L/∂x = softmax(x) − onehot(y).
    func identityLogreg() throws -> Network {
        let net = try makeNetwork(.logreg(inputs: 2, classes: 2), maxBatch: 4)
        net.loadParameters([1, 0, 0, 1, 0, 0])
        return net
    }

    @Test func fgsmLinfStepsSignOfGradientAndClamps() throws {
        // Prepare: y = 0, so g = (p0 − 1, p1) = (−p1, p1): sign (−, +).
        let net = try identityLogreg()
        let attacker = Attacker(network: net, attack: AttackSpec(kind: .fgsm, norm: .linf, epsilon: 0.1), valueRange: 0...1)
        // Execute
        let adv = perturbAll(attacker, features: [0.5, 0.2, 0.05, 0.98], labels: [0, 0], inputs: 2, seed: 1)
        // Assert: the second sample is clamped into [0, 1].
        #expect(maxAbsDifference(adv, [0.4, 0.3, 0, 1]) < 1e-6)
    }

    @Test func fgsmL2StepsAlongNormalisedGradient() throws {
        let net = try identityLogreg()
        let attacker = Attacker(network: net, attack: AttackSpec(kind: .fgsm, norm: .l2, epsilon: 0.1), valueRange: 0...1)
        let adv = perturbAll(attacker, features: [0.5, 0.2], labels: [0], inputs: 2, seed: 1)
        let s = Float(0.1) / Float(2).squareRoot()
        #expect(maxAbsDifference(adv, [0.5 - s, 0.2 + s]) < 1e-6)
    }

    @Test func pgdLinfWalksToTheBallsCorner() throws {
        // 3 steps of 0.04 without random start: 0.5 → 0.46 → 0.42 → 0.40 (projected), 0.2 → 0.30.
        let net = try identityLogreg()
        let spec = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.1, stepSize: 0.04, steps: 3, randomStart: false)
        let adv = perturbAll(Attacker(network: net, attack: spec, valueRange: 0...1), features: [0.5, 0.2], labels: [0], inputs: 2, seed: 1)
        #expect(maxAbsDifference(adv, [0.4, 0.3]) < 1e-6)
    }

    @Test func noValueRangeMeansNoClamp() throws {
        let net = try identityLogreg()
        let attacker = Attacker(network: net, attack: AttackSpec(kind: .fgsm, norm: .linf, epsilon: 0.1), valueRange: nil)
        let adv = perturbAll(attacker, features: [0.05, 0.98], labels: [0], inputs: 2, seed: 1)
        #expect(maxAbsDifference(adv, [-0.05, 1.08]) < 1e-6)
    }

    static let budgetCases: [AttackSpec] = {
        var cases: [AttackSpec] = []
        for norm in AttackSpec.Norm.allCases {
            let eps: Float = norm == .linf ? 0.1 : 0.8
            cases.append(AttackSpec(kind: .fgsm, norm: norm, epsilon: eps))
            for randomStart in [false, true] {
                cases.append(AttackSpec(kind: .pgd, norm: norm, epsilon: eps, stepSize: eps / 4, steps: 10, randomStart: randomStart))
            }
        }
        return cases
    }()

    /// Tolerances: ℓ∞ |δᵢ| ≤ ε + 1e-6 (one float rounding of x ± ε); ℓ2 ‖δ‖ ≤ ε·(1 + 1e-5)
    /// (rescaling by ε/‖δ‖ in float); the valid range holds exactly.
    @Test(arguments: budgetCases)
    func everyExampleStaysInTheBudget(spec: AttackSpec) throws {
        let data = SyntheticData(samples: 32, inputs: 20, classes: 3, seed: 5)
        let net = try makeNetwork(.mlp(inputs: 20, hidden: [16], classes: 3))
        let adv = perturbAll(Attacker(network: net, attack: spec, valueRange: 0...1), features: data.features,
                             labels: data.labels, inputs: 20, seed: 9)
        var largest: Float = 0
        for s in 0..<32 {
            let delta = (0..<20).map { adv[s * 20 + $0] - data.features[s * 20 + $0] }
            let size = spec.norm == .linf ? delta.map(abs).max()! : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            largest = max(largest, size)
            #expect(size <= (spec.norm == .linf ? spec.epsilon + 1e-6 : spec.epsilon * (1 + 1e-5)), "sample \(s): \(size)")
        }
        #expect(adv.allSatisfy { $0 >= 0 && $0 <= 1 })
        // The attack uses its budget: some sample moves at least half of ε.
        #expect(largest >= spec.epsilon / 2, "largest perturbation \(largest)")
    }

    @Test(arguments: AttackSpec.Norm.allCases)
    func tradesExamplesStayInTheBudget(norm: AttackSpec.Norm) throws {
        let data = SyntheticData(samples: 32, inputs: 20, classes: 3, seed: 6)
        let net = try makeNetwork(.mlp(inputs: 20, hidden: [16], classes: 3))
        let eps: Float = norm == .linf ? 0.1 : 0.8
        let trades = TradesAttacker(network: net, attack: AttackSpec(kind: .pgd, norm: norm, epsilon: eps, stepSize: eps / 4, steps: 10),
                                    valueRange: 0...1)
        var clean = [Float](repeating: 0, count: 32 * 3)
        var adv = [Float](repeating: 0, count: 32 * 20)
        net.predictLogits(inputs: data.features, batch: 32, into: &clean)
        var rng = RandomStream(seed: 3, purpose: .attack, index: 0)
        trades.perturb(inputs: data.features, cleanLogits: clean, batch: 32, into: &adv, rng: &rng)
        var advLogits = [Float](repeating: 0, count: 32 * 3)
        net.predictLogits(inputs: adv, batch: 32, into: &advLogits)
        for s in 0..<32 {
            let delta = (0..<20).map { adv[s * 20 + $0] - data.features[s * 20 + $0] }
            let size = norm == .linf ? delta.map(abs).max()! : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(size <= (norm == .linf ? eps + 1e-6 : eps * (1 + 1e-5)))
        }
        #expect(adv.allSatisfy { $0 >= 0 && $0 <= 1 })
        // The search raises the KL well above its 0.001-noise start.
        let kl = SoftmaxKL.divergence(cleanLogits: clean, adversarialLogits: advLogits, batch: 32, classes: 3, scale: 1,
                                      adversarialGradient: nil, cleanGradient: nil)
        #expect(kl / 32 > 1e-3, "mean KL \(kl / 32)")
    }

    @Test func sameStreamSameExamplesDifferentStreamDifferentStart() throws {
        let data = SyntheticData(samples: 16, inputs: 20, classes: 3, seed: 7)
        let net = try makeNetwork(.mlp(inputs: 20, hidden: [16], classes: 3))
        let attacker = Attacker(network: net, attack: AttackSpec(), valueRange: 0...1)
        let a = perturbAll(attacker, features: data.features, labels: data.labels, inputs: 20, seed: 1)
        let b = perturbAll(attacker, features: data.features, labels: data.labels, inputs: 20, seed: 1)
        let c = perturbAll(attacker, features: data.features, labels: data.labels, inputs: 20, seed: 2)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func invalidSpecsAreRejectedWithTheField() {
        #expect(throws: AdversarialError.invalidEpsilon(-1)) { try AttackSpec(epsilon: -1).validate() }
        #expect(throws: AdversarialError.invalidSteps(0)) { try AttackSpec(steps: 0).validate() }
        #expect(throws: AdversarialError.invalidMixLambda(2)) { try AdversarialTrainingSpec(mode: .mix, mixLambda: 2).validate() }
        #expect(throws: AdversarialError.invalidTradesBeta(-1)) { try AdversarialTrainingSpec(mode: .trades, tradesBeta: -1).validate() }
        #expect(AdversarialError.invalidSteps(0).description.contains("steps = 10"))
        #expect(throws: AdversarialError.self) {
            _ = try LocalTrainer(network: try makeNetwork(.logreg(inputs: 2, classes: 2)), spec: .clean, valueRange: 1...1)
        }
    }
}

@Suite struct ConvolutionalAttackTests {
    /// The input gradient through conv/pool layers (col2im path) drives PGD uphill in budget.
    @Test func pgdThroughTheCNNRaisesLossWithinBudget() throws {
        let model = ModelSpec.cnn(channels: 1, height: 8, width: 8, classes: 3)
        let data = SyntheticData(samples: 8, inputs: 64, classes: 3, seed: 13)
        let net = try makeNetwork(model, maxBatch: 8)
        let spec = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.1, stepSize: 0.025, steps: 10)
        let adv = perturbAll(Attacker(network: net, attack: spec, valueRange: 0...1), features: data.features,
                             labels: data.labels, inputs: 64, seed: 2)
        let clean = net.evaluate(features: data.features, labels: data.labels, batchSize: 8)
        let attacked = net.evaluate(features: adv, labels: data.labels, batchSize: 8)
        #expect(attacked.meanLoss > clean.meanLoss, "clean \(clean.meanLoss), attacked \(attacked.meanLoss)")
        #expect(zip(adv, data.features).allSatisfy { abs($0 - $1) <= 0.1 + 1e-6 && $0 >= 0 && $0 <= 1 })
    }
}
