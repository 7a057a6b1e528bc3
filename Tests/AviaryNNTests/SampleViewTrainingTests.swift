import AviaryMath
import Testing
@testable import AviaryNN

/// Training and evaluation over a view (UInt8 rows × scale, selected by an index list) must be
/// bit-identical to the array path over the same Float32 values, in the same order.
@Suite struct SampleViewTrainingTests {
    static let width = 12, rows = 50, classes = 3
    static let scale: Float = 1.0 / 255.0

    /// Byte rows, their labels, and an index list with repeats and gaps.
    static func data() -> (bytes: [UInt8], labels: [Int32], indices: [Int32]) {
        var rng = RandomStream(seed: 11, purpose: .other, index: 0)
        let bytes = (0..<(rows * width)).map { _ in UInt8(rng.nextInt(below: 256)) }
        let labels = (0..<rows).map { _ in Int32(rng.nextInt(below: classes)) }
        let indices: [Int32] = (0..<37).map { Int32(($0 * 7 + 3) % rows) } + [4, 4, 9]
        return (bytes, labels, indices)
    }

    /// The same rows as Float32 arrays, converted with the loaders' arithmetic.
    static func gathered() -> (features: [Float], labels: [Int32]) {
        let (bytes, labels, indices) = data()
        var f: [Float] = []
        for i in indices { f += bytes[(Int(i) * width)..<((Int(i) + 1) * width)].map { Float($0) * scale } }
        return (f, indices.map { labels[Int($0)] })
    }

    static func view() -> SampleView {
        let (bytes, labels, indices) = data()
        return SampleView(storage: SampleStorage(bytes: bytes, scale: scale, labels: labels, width: width), indices: indices)
    }

    func network() throws -> Network {
        let net = try Network(spec: .mlp(inputs: Self.width, hidden: [8], classes: Self.classes), maxBatch: 16)
        net.initialise(seed: 2)
        net.setOptimizer(SGDConfig(learningRate: 0.1), anchor: nil)
        return net
    }

    @Test func epochOverAViewMatchesTheArrayEpochBitForBit() throws {
        let arrays = Self.gathered(), view = Self.view()
        let a = try network(), b = try network()
        for epoch in 0..<3 {
            let sa = trainEpoch(network: a, features: arrays.features, labels: arrays.labels, batchSize: 16, shuffleSeed: 5, epoch: epoch)
            let sb = b.trainEpoch(samples: view, batchSize: 16, shuffleSeed: 5, epoch: epoch)
            #expect(sa.lossSum.bitPattern == sb.lossSum.bitPattern && sa.correct == sb.correct)
        }
        #expect(a.parametersArray().map(\.bitPattern) == b.parametersArray().map(\.bitPattern))
        let ea = a.evaluate(features: arrays.features, labels: arrays.labels, batchSize: 7)
        let eb = b.evaluate(samples: view, batchSize: 7)
        #expect(ea.lossSum.bitPattern == eb.lossSum.bitPattern && ea.correct == eb.correct && eb.count == 40)
        // A whole Float32 storage is read in place and gives the same numbers too.
        let whole = SampleView(features: arrays.features, labels: arrays.labels, width: Self.width)
        #expect(whole.contiguousFloats != nil)
        #expect(b.evaluate(samples: whole, batchSize: 7).lossSum.bitPattern == eb.lossSum.bitPattern)
    }

    @Test func viewsComposeIndexListsWithoutCopying() {
        let view = Self.view()
        let sub = view.selecting([2, 0, 39])
        #expect(sub.storage === view.storage)
        #expect(sub.indices == [view.indices![2], view.indices![0], view.indices![39]])
        #expect(sub.materialisedLabels() == [view.label(2), view.label(0), view.label(39)])
    }

    /// `chunkStats` split between two networks of one spec and added in chunk order gives
    /// `evaluate`'s bits (the server's two-thread evaluation), on a view and on whole storage.
    @Test func chunksSplitBetweenTwoNetworksAddUpToEvaluatesBits() throws {
        let arrays = Self.gathered()
        for view in [Self.view(), SampleView(features: arrays.features, labels: arrays.labels, width: Self.width)] {
            let a = try network(), b = try network()
            for batch in [7, 16, 40] {
                let whole = a.evaluate(samples: view, batchSize: batch)
                let chunks = Network.chunkCount(samples: view.count, batchSize: batch, maxBatch: a.maxBatch)
                #expect(chunks == (view.count + min(batch, 16) - 1) / min(batch, 16))
                for split in 0...chunks {
                    var stats = BatchStats()
                    for c in a.chunkStats(samples: view, batchSize: batch, chunks: 0..<split) + b.chunkStats(samples: view, batchSize: batch, chunks: split..<chunks) {
                        stats.add(c)
                    }
                    #expect(stats.lossSum.bitPattern == whole.lossSum.bitPattern && stats.correct == whole.correct && stats.count == whole.count,
                            "batch \(batch), split at chunk \(split)")
                }
            }
        }
    }

    /// `allocatedBytes` counts the buffers a network holds: more with a larger batch, and the
    /// MLP's far below the CNN's (the server's second evaluation network is sized by it).
    @Test func allocatedBytesGrowWithTheBatchAndTheModel() throws {
        let small = try Network(spec: .mlp(inputs: 784, hidden: [200, 200], classes: 10), maxBatch: 16)
        let large = try Network(spec: .mlp(inputs: 784, hidden: [200, 200], classes: 10), maxBatch: 256)
        let cnn = try Network(spec: .cnn(channels: 1, height: 28, width: 28, classes: 10), maxBatch: 256)
        #expect(small.allocatedBytes >= 2 * 199_210 * 4 && small.allocatedBytes < large.allocatedBytes)
        #expect(large.allocatedBytes < 16 << 20 && cnn.allocatedBytes > 64 << 20, "\(large.allocatedBytes), \(cnn.allocatedBytes)")
    }
}
