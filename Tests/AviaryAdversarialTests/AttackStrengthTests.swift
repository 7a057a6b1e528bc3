import AviaryData
import AviaryMath
import AviaryNN
import Testing
import AviaryTestSupport
@testable import AviaryAdversarial

@Suite(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
struct AttackStrengthTests {
    /// Clean loss ≤ FGSM loss ≤ PGD-10 loss (means over 500 test images) for ℓ∞ and ℓ2 on an
    /// MLP trained for 3 epochs on 6,000 Fashion-MNIST images.
    @Test func attacksHurtAndPGDHurtsMore() throws {
        let data = try FashionMNISTFixture.small()
        let net = try makeNetwork(.mlp(inputs: 784, hidden: [100], classes: 10), learningRate: 0.1)
        for epoch in 0..<3 {
            _ = trainEpoch(network: net, features: data.train.features, labels: data.train.labels, batchSize: 32, shuffleSeed: 1, epoch: epoch)
        }
        func attacked(_ attack: AttackSpec) -> BatchStats {
            RobustEvaluation.evaluate(network: net, features: data.test.features, labels: data.test.labels, attack: attack,
                                      valueRange: 0...1, subset: 500, batchSize: 32, seed: 2)
        }
        let clean = attacked(AttackSpec(kind: .fgsm, epsilon: 0))
        #expect(clean.accuracy > 0.7, "the model must have learnt something: clean accuracy \(clean.accuracy)")
        for (norm, eps) in [(AttackSpec.Norm.linf, Float(0.1)), (.l2, 1.5)] {
            let fgsm = attacked(AttackSpec(kind: .fgsm, norm: norm, epsilon: eps))
            let pgd = attacked(AttackSpec(kind: .pgd, norm: norm, epsilon: eps, stepSize: eps / 4, steps: 10))
            print("[attack strength] \(norm.rawValue) ε=\(eps): loss clean \(clean.meanLoss) FGSM \(fgsm.meanLoss) PGD-10 \(pgd.meanLoss); "
                  + "accuracy clean \(clean.accuracy) FGSM \(fgsm.accuracy) PGD-10 \(pgd.accuracy)")
            #expect(fgsm.meanLoss >= clean.meanLoss)
            #expect(pgd.meanLoss >= fgsm.meanLoss)
            #expect(pgd.accuracy <= fgsm.accuracy)
        }
    }
}
