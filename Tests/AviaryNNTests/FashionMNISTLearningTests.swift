import Testing
import AviaryTestSupport
import AviaryData
import AviaryMath
@testable import AviaryNN

/// Centralised training on 2,000 real training images must generalise to 1,000 test images.
/// Thresholds sit well below what the engine reaches (MLP ≈ 0.79 after 10 epochs, CNN ≈ 0.74 after 5) and well
/// above chance (0.10), so a broken gradient or update fails them.
@Suite(.serialized) struct FashionMNISTLearningTests {
    @Test(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason), arguments: [
        (ModelSpec.mcMahan2NN, 10, 0.72),
        (ModelSpec.mcMahanCNN, 5, 0.70),
    ])
    func centralisedTrainingLearns(spec: ModelSpec, epochs: Int, minimumAccuracy: Double) throws {
        BLAS.setThreads(1)
        let data = try FashionMNISTFixture.splits()
        let train = data.train.prefix(2_000), test = data.test.prefix(1_000)
        let net = try Network(spec: spec, maxBatch: 64)
        net.initialise(seed: 1)
        net.setOptimizer(SGDConfig(learningRate: 0.05), anchor: nil)
        let before = net.evaluate(features: test.features, labels: test.labels, batchSize: 64)
        var last = BatchStats()
        for epoch in 0..<epochs {
            last = trainEpoch(network: net, features: train.features, labels: train.labels, batchSize: 32, shuffleSeed: 7, epoch: epoch)
        }
        let after = net.evaluate(features: test.features, labels: test.labels, batchSize: 64)
        print("\(spec.name): test accuracy \(before.accuracy) → \(after.accuracy), loss \(before.meanLoss) → \(after.meanLoss), last train loss \(last.meanLoss)")
        #expect(after.accuracy >= minimumAccuracy)
        #expect(after.meanLoss < before.meanLoss)
        #expect(after.count == 1_000)
    }
}
