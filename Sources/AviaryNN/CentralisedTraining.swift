import AviaryMath

/// One epoch of minibatch training over row-per-sample `features`, in the order of a
/// permutation drawn from `RandomStream(seed: shuffleSeed, purpose: .shuffle, index: epoch)`.
/// The last batch may be partial (PyTorch's `drop_last=False`). Batches are gathered into the
/// network's preallocated buffer. Returns the summed stats of the training batches.
public func trainEpoch(network: Network, features: [Float], labels: [Int32], batchSize: Int,
                       shuffleSeed: UInt64, epoch: Int) -> BatchStats {
    features.withUnsafeBufferPointer { f in
        labels.withUnsafeBufferPointer { l in
            network.trainEpoch(features: f, labels: l, batchSize: batchSize, shuffleSeed: shuffleSeed, epoch: epoch)
        }
    }
}

extension Network {
    /// Buffer-pointer form of the free function `trainEpoch(network:features:labels:…)`.
    public func trainEpoch(features: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batchSize: Int,
                           shuffleSeed: UInt64, epoch: Int) -> BatchStats {
        let n = labels.count, d = spec.inputCount
        precondition(features.count == n * d, "trainEpoch: \(features.count) features for \(n) labels of \(d) inputs each")
        precondition(batchSize >= 1 && batchSize <= maxBatch, "trainEpoch: batch size \(batchSize) is outside 1...\(maxBatch)")
        guard n > 0, let x = features.baseAddress, let y = labels.baseAddress else { return BatchStats() }
        var rng = RandomStream(seed: shuffleSeed, purpose: .shuffle, index: UInt64(epoch))
        let order = rng.permutation(n)
        var stats = BatchStats()
        var start = 0
        while start < n {
            let b = min(batchSize, n - start)
            for i in 0..<b {
                let s = order[start + i]
                (batchInputs + i * d).update(from: x + s * d, count: d)
                batchLabels[i] = y[s]
            }
            stats.add(trainStep(inputs: batchInputs, labels: batchLabels, batch: b))
            start += b
        }
        return stats
    }

    /// `trainEpoch` over a view of shared storage: batches are gathered by index (UInt8 rows are
    /// scaled to Float32 while gathering), in the same permutation, so the result is bit-identical
    /// to the array form over the same values.
    public func trainEpoch(samples: SampleView, batchSize: Int, shuffleSeed: UInt64, epoch: Int) -> BatchStats {
        let n = samples.count, d = spec.inputCount
        precondition(samples.width == d, "trainEpoch: samples have \(samples.width) values each, the model takes \(d)")
        precondition(batchSize >= 1 && batchSize <= maxBatch, "trainEpoch: batch size \(batchSize) is outside 1...\(maxBatch)")
        guard n > 0 else { return BatchStats() }
        var rng = RandomStream(seed: shuffleSeed, purpose: .shuffle, index: UInt64(epoch))
        let order = rng.permutation(n)
        var stats = BatchStats()
        order.withUnsafeBufferPointer { o in
            var start = 0
            while start < n {
                let b = min(batchSize, n - start)
                samples.gather(order: o.baseAddress!, start: start, count: b, inputs: batchInputs, labels: batchLabels)
                stats.add(trainStep(inputs: batchInputs, labels: batchLabels, batch: b))
                start += b
            }
        }
        return stats
    }
}
