import AviaryData
import AviaryMath
import AviaryNN
import Testing
import AviaryTestSupport
@testable import AviaryAdversarial

@Suite(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
struct FederatedAdversarialTrainingTests {
    static let clients = 4, perClient = 1000, rounds = 6, localEpochs = 2, learningRate: Float = 0.1

    /// FedAvg simulated in memory: each round every client starts from the global vector,
    /// trains `localEpochs` local epochs and returns local − global; the server adds the mean delta
    /// (equal shard sizes, so equal weights). Returns (clean accuracy, PGD-20 robust accuracy)
    /// on 1,000 test images.
    func run(_ spec: AdversarialTrainingSpec) throws -> (clean: Double, robust: Double) {
        let data = try FashionMNISTFixture.small()
        let d = 784
        let net = try makeNetwork(.mcMahan2NN, learningRate: Self.learningRate)
        let trainer = try LocalTrainer(network: net, spec: spec, valueRange: 0...1)
        var global = net.parametersArray()
        let trainX = data.train.features, trainY = data.train.labels  // one copy of each view
        for round in 0..<Self.rounds {
            var sum = [Float](repeating: 0, count: global.count)
            for client in 0..<Self.clients {
                let range = (client * Self.perClient)..<((client + 1) * Self.perClient)
                let x = Array(trainX[(range.lowerBound * d)..<(range.upperBound * d)])
                let y = Array(trainY[range])
                net.loadParameters(global)
                net.setOptimizer(SGDConfig(learningRate: Self.learningRate), anchor: nil)
                for epoch in 0..<Self.localEpochs {
                    _ = trainer.trainEpoch(features: x, labels: y, batchSize: 32, shuffleSeed: UInt64(100 + client),
                                           epoch: round * Self.localEpochs + epoch, attackSeed: UInt64(200 + client), maxSteps: nil)
                }
                let local = net.parametersArray()
                for i in sum.indices { sum[i] += local[i] - global[i] }
            }
            for i in global.indices { global[i] += sum[i] / Float(Self.clients) }
        }
        net.loadParameters(global)
        let testX = Array(data.test.prefix(1000).features), testY = data.test.prefix(1000).labels
        let clean = net.evaluate(features: testX, labels: testY, batchSize: 32)
        let robust = RobustEvaluation.evaluate(network: net, features: testX, labels: testY, spec: RobustEvaluationSpec(),
                                               valueRange: 0...1, batchSize: 32, seed: 7)
        return (clean.accuracy, robust.accuracy)
    }

    /// The clean-training run, computed once and shared by the parametrised cases.
    static let cleanBaseline: (clean: Double, robust: Double) = {
        do { return try FederatedAdversarialTrainingTests().run(.clean) } catch { fatalError("clean baseline: \(error)") }
    }()

    @Test(arguments: [AdversarialTrainingSpec.Mode.pgd, .trades])
    func adversarialTrainingRaisesRobustAccuracy(mode: AdversarialTrainingSpec.Mode) throws {
        let plain = Self.cleanBaseline
        let adversarial = try run(AdversarialTrainingSpec(mode: mode, attack: AttackSpec(epsilon: 0.1, stepSize: 0.025, steps: 10)))
        print("[federated] \(Self.clients) clients × \(Self.perClient), \(Self.rounds) rounds × \(Self.localEpochs) local epochs FedAvg lr \(Self.learningRate), "
              + "784-200-200-10, PGD-20 ℓ∞ ε=0.1 eval on 1,000: clean training acc \(plain.clean) robust \(plain.robust); "
              + "\(mode.rawValue) training (10 steps, ε=0.1, α=0.025) acc \(adversarial.clean) robust \(adversarial.robust)")
        #expect(adversarial.robust >= plain.robust + 0.15)
        #expect(adversarial.clean > 0.5)
    }
}
