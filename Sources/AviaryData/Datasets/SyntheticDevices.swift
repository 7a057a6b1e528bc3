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

    /// The server's held-out pool (every device's server share, in device order), or a seeded
    /// subset of about `limit` samples of it: whole server shares of devices taken in a seeded
    /// order (`RandomStream(partitionSeed, .evaluation, 2)`) until `limit` is reached, the last
    /// one cut, then put back in device order. Sampling devices rather than samples keeps the
    /// cost to the few devices the subset touches (a per-sample draw would hit nearly every
    /// large device, and a device must be generated whole).
    func heldOut(limit: Int?) -> Dataset {
        var take = [Int](repeating: 0, count: count)  // server-share samples used per device
        if let limit {
            var order = Array(0..<count)
            var rng = RandomStream(seed: partitionSeed, purpose: .evaluation, index: 2)
            rng.shuffle(&order)
            var remaining = limit
            for k in order where remaining > 0 {
                take[k] = min(serverTestCount(k), remaining)
                remaining -= take[k]
            }
        } else {
            for k in 0..<count { take[k] = serverTestCount(k) }
        }
        var features: [Float] = [], labels: [Int32] = [], owners: [Int32] = []
        for k in 0..<count where take[k] > 0 {
            let device = generate(k)
            let split = trainSplit(k)
            // Copy out the few rows needed so the whole device's storage is freed right away.
            let part = device.subset(testShares(k).server.prefix(take[k]).map { split + $0 })
            features += part.features
            labels += part.labels
            owners += [Int32](repeating: Int32(k), count: part.count)
        }
        return Dataset(features: features, labels: labels, sampleShape: [SyntheticGenerator.dimension],
                       classes: SyntheticGenerator.classes, valueRange: nil, owners: owners)
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
