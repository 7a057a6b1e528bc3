import AviaryData
import AviaryMath
import AviaryNN
import Testing
import AviaryTestSupport
@testable import AviaryAdversarial

/// APGD checked the way AutoAttack is: on a trained model it finds at least what PGD-20 finds,
/// and on a model whose CE gradients are masked (logits × 1e4, so float32 softmax saturates and
/// ∂CE/∂x is exactly 0 for confident samples) it still finds what it finds on the plain model.
@Suite(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
struct APGDStrengthTests {
    static let subset = 500

    /// An MLP trained for 3 epochs on 6,000 Fashion-MNIST images (as AttackStrengthTests).
    func trainedNetwork() throws -> (Network, FashionMNISTFixture.Splits) {
        let data = try FashionMNISTFixture.small()
        let net = try makeNetwork(.mlp(inputs: 784, hidden: [100], classes: 10), maxBatch: 250, learningRate: 0.1)
        for epoch in 0..<3 {
            _ = trainEpoch(network: net, features: data.train.features, labels: data.train.labels, batchSize: 32, shuffleSeed: 1, epoch: epoch)
        }
        return (net, data)
    }

    func robustAccuracy(_ net: Network, _ data: FashionMNISTFixture.Splits, _ attack: AttackSpec) -> Double {
        RobustEvaluation.evaluate(network: net, features: data.test.features, labels: data.test.labels, attack: attack,
                                  valueRange: 0...1, subset: Self.subset, batchSize: 250, seed: 2).accuracy
    }

    @Test(arguments: [(AttackSpec.Norm.linf, Float(0.03)), (.l2, Float(0.5))])
    func apgdIsAtLeastAsStrongAsPGD20(_ norm: AttackSpec.Norm, _ eps: Float) throws {
        let (net, data) = try trainedNetwork()
        let clean = robustAccuracy(net, data, AttackSpec(kind: .fgsm, norm: norm, epsilon: 0))
        let pgd = robustAccuracy(net, data, AttackSpec(kind: .pgd, norm: norm, epsilon: eps, stepSize: 2.5 * eps / 20, steps: 20))
        let ce = robustAccuracy(net, data, AttackSpec(kind: .apgdCE, norm: norm, epsilon: eps, steps: 100))
        let dlr = robustAccuracy(net, data, AttackSpec(kind: .apgdDLR, norm: norm, epsilon: eps, steps: 100))
        let lite = robustAccuracy(net, data, AttackSpec(kind: .autoattackLite, norm: norm, epsilon: eps, steps: 100))
        print("[apgd strength] \(norm.rawValue) ε=\(eps): clean \(clean) PGD-20 \(pgd) APGD-CE \(ce) APGD-DLR \(dlr) AutoAttack-lite \(lite)")
        #expect(pgd < clean - 0.1, "the budget must matter: clean \(clean), PGD-20 \(pgd)")
        #expect(ce <= pgd)
        #expect(dlr <= pgd)
        #expect(lite <= min(ce, dlr) + 0.01, "the ensemble is robust only where both are")
    }

    @Test func dlrExposesMaskedGradients() throws {
        let (net, data) = try trainedNetwork()
        let eps: Float = 0.1
        let pgdSpec = AttackSpec(kind: .pgd, epsilon: eps, stepSize: 2.5 * eps / 20, steps: 20)
        let dlrSpec = AttackSpec(kind: .apgdDLR, epsilon: eps, steps: 100)
        let pgdPlain = robustAccuracy(net, data, pgdSpec), dlrPlain = robustAccuracy(net, data, dlrSpec)
        // Same decisions, logits × 1e4: the last layer's weights and bias scaled.
        var parameters = net.parametersArray()
        for tensor in net.layout.tensors.suffix(2) {
            for i in tensor.offset..<(tensor.offset + tensor.count) { parameters[i] *= 1e4 }
        }
        net.loadParameters(parameters)
        let clean = robustAccuracy(net, data, AttackSpec(kind: .fgsm, epsilon: 0))
        let pgdMasked = robustAccuracy(net, data, pgdSpec), dlrMasked = robustAccuracy(net, data, dlrSpec)
        let ceMasked = robustAccuracy(net, data, AttackSpec(kind: .apgdCE, epsilon: eps, steps: 100))
        print("[apgd masking] ε=\(eps): PGD-20 plain \(pgdPlain) masked \(pgdMasked); APGD-DLR plain \(dlrPlain) masked \(dlrMasked); "
              + "APGD-CE masked \(ceMasked); clean (masked model) \(clean)")
        #expect(pgdMasked > pgdPlain + 0.3, "masking must fool PGD-CE: plain \(pgdPlain), masked \(pgdMasked)")
        #expect(abs(dlrMasked - dlrPlain) <= 0.03, "DLR is scale-invariant: plain \(dlrPlain), masked \(dlrMasked)")
        #expect(dlrMasked < pgdMasked - 0.3)
    }
}
