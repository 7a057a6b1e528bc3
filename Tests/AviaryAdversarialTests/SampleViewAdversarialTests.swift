import AviaryMath
import AviaryNN
import Testing
@testable import AviaryAdversarial

/// Local adversarial training and robust evaluation over a view of shared storage (byte rows ×
/// scale, an index list) give bit-identical results to the array path over the same values.
@Suite struct SampleViewAdversarialTests {
    static let model = ModelSpec.mlp(inputs: 20, hidden: [16], classes: 3)
    static let attack = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.1, stepSize: 0.03, steps: 3)
    static let scale: Float = 1.0 / 255.0

    /// 60 byte rows; the view takes 45 of them (some twice) in a scrambled order.
    static func fixture() -> (view: SampleView, features: [Float], labels: [Int32]) {
        let data = SyntheticData(samples: 60, inputs: 20, classes: 3, seed: 4)
        let bytes = data.features.map { UInt8(($0 * 255).rounded()) }
        let indices: [Int32] = (0..<45).map { Int32(($0 * 11 + 5) % 60) }
        let storage = SampleStorage(bytes: bytes, scale: scale, labels: data.labels, width: 20)
        var f: [Float] = []
        for i in indices { f += bytes[(Int(i) * 20)..<((Int(i) + 1) * 20)].map { Float($0) * scale } }
        return (SampleView(storage: storage, indices: indices), f, indices.map { data.labels[Int($0)] })
    }

    @Test(arguments: [AdversarialTrainingSpec.Mode.none, .pgd, .mix, .trades])
    func localTrainingOverAViewMatchesArrays(mode: AdversarialTrainingSpec.Mode) throws {
        let (view, features, labels) = Self.fixture()
        let spec = AdversarialTrainingSpec(mode: mode, attack: Self.attack)
        let a = try makeNetwork(Self.model), b = try makeNetwork(Self.model)
        let ta = try LocalTrainer(network: a, spec: spec, valueRange: 0...1)
        let tb = try LocalTrainer(network: b, spec: spec, valueRange: 0...1)
        for epoch in 0..<2 {
            let sa = ta.trainEpoch(features: features, labels: labels, batchSize: 16, shuffleSeed: 3, epoch: epoch,
                                   attackSeed: 9, maxSteps: epoch == 1 ? 2 : nil)
            let sb = tb.trainEpoch(samples: view, batchSize: 16, shuffleSeed: 3, epoch: epoch, attackSeed: 9,
                                   maxSteps: epoch == 1 ? 2 : nil)
            #expect(sa.steps == sb.steps && sa.clean.lossSum.bitPattern == sb.clean.lossSum.bitPattern)
        }
        #expect(a.parametersArray().map(\.bitPattern) == b.parametersArray().map(\.bitPattern))
    }

    @Test func robustEvaluationOverAViewMatchesArrays() throws {
        let (view, features, labels) = Self.fixture()
        let net = try makeNetwork(Self.model)
        let fromArrays = RobustEvaluation.evaluate(network: net, features: features, labels: labels, attack: Self.attack,
                                                   valueRange: 0...1, subset: 30, batchSize: 8, seed: 6)
        let fromView = RobustEvaluation.evaluate(network: net, samples: view, attack: Self.attack, valueRange: 0...1,
                                                 subset: 30, batchSize: 8, seed: 6)
        #expect(fromArrays.lossSum.bitPattern == fromView.lossSum.bitPattern && fromArrays.correct == fromView.correct)
        #expect(fromView.count == 30)
    }
}
