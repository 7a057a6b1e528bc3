import Foundation
import Testing
import AviaryMath
@testable import AviaryNN

/// Minimal test-only reader for the gzipped IDX files of Debian's dataset-fashion-mnist.
enum FashionMNISTFixture {
    static let directory = "/usr/share/datasets/fashion-mnist"

    static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: "\(directory)/train-images-idx3-ubyte.gz")
            && FileManager.default.fileExists(atPath: "/bin/gzip")
    }

    /// Decompresses with the system gzip (Foundation has no gzip on Linux).
    static func gunzip(_ path: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return [UInt8](data)
    }

    private static func bigEndian(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }

    /// The first `limit` images scaled to [0, 1] (row per image) and their labels.
    static func load(split: String, limit: Int) throws -> (features: [Float], labels: [Int32]) {
        let images = try gunzip("\(directory)/\(split)-images-idx3-ubyte.gz")
        let labels = try gunzip("\(directory)/\(split)-labels-idx1-ubyte.gz")
        precondition(bigEndian(images, 0) == 0x803 && bigEndian(labels, 0) == 0x801, "not IDX image/label files")
        let n = min(limit, bigEndian(images, 4), bigEndian(labels, 4))
        let pixels = bigEndian(images, 8) * bigEndian(images, 12)
        let features = images[16..<(16 + n * pixels)].map { Float($0) / 255 }
        return (features, labels[8..<(8 + n)].map { Int32($0) })
    }
}

/// Centralised training on 2,000 real training images must generalise to 1,000 test images.
/// Thresholds sit well below what the engine reaches (MLP ≈ 0.79 after 10 epochs, CNN ≈ 0.74 after 5) and well
/// above chance (0.10), so a broken gradient or update fails them.
@Suite(.serialized) struct FashionMNISTLearningTests {
    @Test(arguments: [
        (ModelSpec.mcMahan2NN, 10, 0.72),
        (ModelSpec.mcMahanCNN, 5, 0.70),
    ])
    func centralisedTrainingLearns(spec: ModelSpec, epochs: Int, minimumAccuracy: Double) throws {
        guard FashionMNISTFixture.isAvailable else {
            print("skipping: \(FashionMNISTFixture.directory) or /bin/gzip missing (apt-get install dataset-fashion-mnist)")
            return
        }
        BLAS.setThreads(1)
        let train = try FashionMNISTFixture.load(split: "train", limit: 2_000)
        let test = try FashionMNISTFixture.load(split: "t10k", limit: 1_000)
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
