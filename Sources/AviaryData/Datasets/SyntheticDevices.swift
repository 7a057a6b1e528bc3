import AviaryMath

/// Synthetic(α, β) under the natural partition, generated on demand: device k's data is a pure
/// function of (seed, k), so `client(k)` generates only device k and nothing is held per idle
/// device except its size. Sizes come from the generator's first draw, which costs one normal
/// variate, so statistics over 100,000 devices need no features.
///
/// Each device keeps FedProx's split: the first ⌊0.9·n⌋ samples train (capped at `trainLimit`),
/// the rest are its test split. That test split is divided, seeded per device, between the
/// client (its local validation data) and the server's held-out pool: the server gets ⌊t/2⌋ of
/// the t test samples, the client the rest, so clients never validate on reported test data.
struct SyntheticDevices: Sendable {
    let alpha: Double, beta: Double, seed: UInt64
    let partitionSeed: UInt64
    let trainLimit: Int?
    /// Samples per device (n_k), all devices.
    let sizes: [Int32]

    init(alpha: Double, beta: Double, seed: UInt64, partitionSeed: UInt64, trainLimit: Int?, devices: Int) {
        self.alpha = alpha
        self.beta = beta
        self.seed = seed
        self.partitionSeed = partitionSeed
        self.trainLimit = trainLimit
        sizes = (0..<devices).map { Int32(clamping: SyntheticGenerator.sampleCount(device: $0, seed: seed)) }
    }

    var count: Int { sizes.count }

    /// ⌊0.9·n⌋, FedProx's train share (before `trainLimit`).
    func trainSplit(_ k: Int) -> Int { Int(0.9 * Double(sizes[k])) }

    /// Local training samples of device k (after `trainLimit`).
    func trainCount(_ k: Int) -> Int { min(trainSplit(k), trainLimit ?? Int.max) }

    /// Test samples of device k that belong to the server's held-out pool.
    func serverTestCount(_ k: Int) -> Int { (Int(sizes[k]) - trainSplit(k)) / 2 }

    /// Offsets within device k's test split: the server's share and the client's, each ascending.
    func testShares(_ k: Int) -> (server: [Int], client: [Int]) {
        let t = Int(sizes[k]) - trainSplit(k)
        var order = Array(0..<t)
        var rng = RandomStream(seed: partitionSeed, purpose: .localSplit, index: UInt64(k))
        rng.shuffle(&order)
        let s = t / 2
        return (order[..<s].sorted(), order[s...].sorted())
    }

    /// All samples of device k.
    func generate(_ k: Int) -> Dataset {
        SyntheticGenerator.samples(k, alpha: alpha, beta: beta, seed: seed)
    }

    /// Device k's local train and validation data (views of a freshly generated device).
    func client(_ k: Int) -> (train: Dataset, test: Dataset) {
        let all = generate(k)
        let split = trainSplit(k)
        return (all.subset(Array(0..<trainCount(k))), all.subset(testShares(k).client.map { split + $0 }))
    }

    /// The server's held-out pool, or a seeded subset of `limit` of its samples (first `limit` of a
    /// permutation from `RandomStream(partitionSeed, .evaluation, 2)`, in pool order), generating
    /// only the devices that subset touches.
    func heldOut(limit: Int?) -> Dataset {
        let perDevice = (0..<count).map { serverTestCount($0) }
        let total = perDevice.reduce(0, +)
        var wanted: [Int]? = nil  // sorted pool positions; nil = all
        if let limit, limit < total {
            var rng = RandomStream(seed: partitionSeed, purpose: .evaluation, index: 2)
            wanted = rng.permutation(total)[..<limit].sorted()
        }
        var parts: [Dataset] = []
        var start = 0, cursor = 0
        for k in 0..<count {
            let n = perDevice[k]
            defer { start += n }
            guard n > 0 else { continue }
            var local: [Int]
            if let wanted {
                local = []
                while cursor < wanted.count, wanted[cursor] < start + n { local.append(wanted[cursor] - start); cursor += 1 }
                if local.isEmpty { continue }
            } else {
                local = Array(0..<n)
            }
            let device = generate(k)
            let shares = testShares(k).server
            parts.append(device.subset(local.map { trainSplit(k) + shares[$0] }))
        }
        return Dataset.concatenating(parts, sampleShape: [SyntheticGenerator.dimension], classes: SyntheticGenerator.classes,
                                     valueRange: nil)
    }

    /// Partition statistics: sizes of every device, label histograms of the first `listed` devices.
    func statistics(listed: Int, notes: [String]) -> PartitionStats {
        let classes = SyntheticGenerator.classes
        let sizes = (0..<count).map { trainCount($0) }
        var global = [Int](repeating: 0, count: classes)
        let histograms = (0..<min(listed, count)).map { k in
            let h = client(k).train.labelHistogram()
            for c in 0..<classes { global[c] += h[c] }
            return h
        }
        var notes = notes
        if histograms.count < count {
            notes.append("statistics: label histograms of the first \(histograms.count) of \(count) devices (devices are generated on demand); sizes cover all")
        }
        return PartitionStats(classes: classes, samples: sizes.reduce(0, +), dropped: 0, globalLabelCounts: global,
                              sizes: sizes, histograms: histograms, notes: notes)
    }
}
