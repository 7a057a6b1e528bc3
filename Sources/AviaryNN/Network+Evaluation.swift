import AviaryMath

extension Network {
    /// Loss and accuracy over a whole dataset (row-per-sample features) on the inference path,
    /// in chunks of min(batchSize, maxBatch). Invalidates a pending `backward`.
    public func evaluate(features: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batchSize: Int) -> BatchStats {
        let n = labels.count, d = spec.inputCount
        precondition(features.count == n * d, "evaluate: \(features.count) features for \(n) labels of \(d) inputs each")
        guard n > 0, let x = features.baseAddress, let y = labels.baseAddress else { return BatchStats() }
        let chunk = max(1, min(batchSize, maxBatch))
        var stats = BatchStats()
        var start = 0
        while start < n {
            let b = min(chunk, n - start)
            let logits = runForward(input: x + start * d, batch: b, training: false)
            stats.add(SoftmaxCrossEntropy.forward(logits: logits, labels: y + start, batch: b, classes: spec.classes))
            start += b
        }
        return stats
    }

    /// `evaluate` over a view of shared storage: whole Float32 storage is read in place; other
    /// views are gathered chunk by chunk into the network's batch buffer (same values, same order).
    public func evaluate(samples: SampleView, batchSize: Int) -> BatchStats {
        let chunks = Self.chunkCount(samples: samples.count, batchSize: batchSize, maxBatch: maxBatch)
        var stats = BatchStats()
        for c in chunkStats(samples: samples, batchSize: batchSize, chunks: 0..<chunks) { stats.add(c) }
        return stats
    }

    /// The chunks `evaluate` cuts `count` samples into: min(batchSize, maxBatch) each, the last
    /// one shorter.
    public static func chunkCount(samples count: Int, batchSize: Int, maxBatch: Int) -> Int {
        let chunk = max(1, min(batchSize, maxBatch))
        return (count + chunk - 1) / chunk
    }

    /// One `BatchStats` per chunk in `chunks` (chunk i holds samples i·c ..< min(n, (i + 1)·c),
    /// c = min(batchSize, maxBatch)): what `evaluate` adds up in chunk order. Networks of one spec
    /// and `maxBatch` give each chunk the same bits, so chunks split among several networks and
    /// added in chunk order give `evaluate`'s result.
    public func chunkStats(samples: SampleView, batchSize: Int, chunks: Range<Int>) -> [BatchStats] {
        let n = samples.count, d = spec.inputCount
        precondition(samples.width == d, "evaluate: samples have \(samples.width) values each, the model takes \(d)")
        let chunk = max(1, min(batchSize, maxBatch))
        let contiguous = samples.contiguousFloats
        var out: [BatchStats] = []
        out.reserveCapacity(chunks.count)
        for i in chunks {
            let start = i * chunk, b = min(chunk, n - start)
            precondition(b > 0, "evaluate: chunk \(i) starts past the \(n) samples")
            let logits: UnsafePointer<Float>
            let labels: UnsafePointer<Int32>
            if let x = contiguous {
                logits = UnsafePointer(runForward(input: x + start * d, batch: b, training: false))
                labels = UnsafePointer(samples.storage.labels + start)
            } else {
                samples.gather(order: nil, start: start, count: b, inputs: batchInputs, labels: batchLabels)
                logits = UnsafePointer(runForward(input: batchInputs, batch: b, training: false))
                labels = UnsafePointer(batchLabels)
            }
            out.append(SoftmaxCrossEntropy.forward(logits: logits, labels: labels, batch: b, classes: spec.classes))
        }
        return out
    }

    /// Array convenience for `evaluate(features:labels:batchSize:)`.
    public func evaluate(features: [Float], labels: [Int32], batchSize: Int) -> BatchStats {
        features.withUnsafeBufferPointer { f in labels.withUnsafeBufferPointer { evaluate(features: f, labels: $0, batchSize: batchSize) } }
    }

    /// Logits (batch × classes) on the inference path, copied into `into`.
    public func predictLogits(inputs: UnsafePointer<Float>, batch: Int, into: UnsafeMutablePointer<Float>) {
        precondition(batch >= 1 && batch <= maxBatch, "predictLogits: batch \(batch) is outside 1...\(maxBatch)")
        let logits = runForward(input: inputs, batch: batch, training: false)
        into.update(from: logits, count: batch * spec.classes)
    }
}
