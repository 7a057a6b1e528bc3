import AviaryMath
import Synchronization

/// One client's local data: what it trains on and what it evaluates on (feature skew applied).
public struct ClientData: Sendable {
    public let train: Dataset
    public let test: Dataset

    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }
}

/// A loaded and partitioned federation: built once per process from a `DataSpec` and shared
/// read-only by every virtual client that process hosts (use `shared(spec:)` to get the cached one).
public final class FederatedDataset: Sendable {
    public let spec: DataSpec
    /// Remarks about how the data was built (fallbacks, hold-outs); the server logs them.
    public let notes: [String]
    /// The partitioned training pool (after `trainLimit`).
    public let trainPool: Dataset
    /// The partition of `trainPool`, before local splits.
    public let partition: Partition
    private let heldOutTest: Dataset
    private let localTrain: [[Int]]
    /// Local test indices, into `trainPool` or (synthetic natural partition) into `heldOutTest`.
    private let localTest: [[Int]]
    private let localTestFromHeldOut: Bool
    private let stats: PartitionStats

    private static let cache = Mutex<[DataSpec: FederatedDataset]>([:])

    /// The process-wide instance for `spec`, loading it on first use.
    public static func shared(spec: DataSpec) throws -> FederatedDataset {
        try cache.withLock { cache in
            if let hit = cache[spec] { return hit }
            let loaded = try FederatedDataset(spec: spec)
            cache[spec] = loaded
            return loaded
        }
    }

    /// Loads the source, partitions it and computes local splits and statistics.
    public init(spec: DataSpec) throws {
        guard spec.clients >= 1 else {
            throw PartitionError.invalidParameter(partitioner: spec.partition.name, problem: "clients must be at least 1, got \(spec.clients)")
        }
        guard spec.localTestFraction >= 0, spec.localTestFraction < 1 else {
            throw DatasetError.invalidParameter(source: "data spec", problem: "localTestFraction must be in [0, 1), got \(spec.localTestFraction)")
        }
        if let limit = spec.trainLimit, limit < 1 {
            throw DatasetError.invalidParameter(source: "data spec", problem: "train_limit must be positive, got \(limit)")
        }
        self.spec = spec
        var notes: [String] = []
        let source = try DatasetSource.load(spec, notes: &notes)
        trainPool = source.train
        heldOutTest = source.test
        if let skew = spec.featureSkew, skew.maxRotationDegrees != 0, trainPool.sampleShape.count < 2 {
            throw DatasetError.invalidParameter(source: "feature skew", problem: "rotation needs image samples but \(spec.dataset.name) samples have shape \(trainPool.sampleShape); set max rotation to 0")
        }

        var partition = try spec.partition.partition(labels: trainPool.labels, owners: trainPool.owners,
                                                     classes: trainPool.classes, clients: spec.clients,
                                                     seed: spec.partitionSeed, datasetName: spec.dataset.name)
        notes += partition.notes
        // Synthetic devices come with their own 90/10 split; keep it under the natural partition.
        let deviceSplits = source.isSynthetic && spec.partition == .natural
        var train: [[Int]] = [], test: [[Int]] = []
        if deviceSplits {
            let ownerOfTest = heldOutTest.owners ?? []
            var byOwner = [[Int]](repeating: [], count: spec.clients)
            for (i, o) in ownerOfTest.enumerated() where Int(o) < spec.clients { byOwner[Int(o)].append(i) }
            train = partition.clientIndices
            test = byOwner
        } else {
            for (client, indices) in partition.clientIndices.enumerated() {
                let split = LocalSplit.split(indices, testFraction: spec.localTestFraction, seed: spec.partitionSeed, client: client)
                train.append(split.train)
                test.append(split.test)
            }
        }
        partition.notes = []
        self.partition = partition
        localTrain = train
        localTest = test
        localTestFromHeldOut = deviceSplits
        self.notes = notes
        var stats = PartitionStats(partition: partition, labels: trainPool.labels, classes: trainPool.classes)
        stats.notes = notes
        self.stats = stats
    }

    /// Client `index`'s local train and test data, feature skew applied.
    public func client(_ index: Int) throws -> ClientData {
        guard index >= 0, index < spec.clients else {
            throw PartitionError.clientOutOfRange(index: index, clients: spec.clients)
        }
        var train = trainPool.subset(localTrain[index])
        var test = (localTestFromHeldOut ? heldOutTest : trainPool).subset(localTest[index])
        if let skew = spec.featureSkew, skew.isActive {
            let transform = skew.transform(client: index, clients: spec.clients, seed: spec.partitionSeed)
            train = try transform.apply(to: train, split: .train)
            test = try transform.apply(to: test, split: .test)
        }
        return ClientData(train: train, test: test)
    }

    /// The server's held-out test set: the source's test split (synthetic: union of device test splits).
    public func globalTest() -> Dataset { heldOutTest }

    /// Label statistics of the partition (before local splits), with the build notes.
    public func statistics() -> PartitionStats { stats }

    /// Union of all clients' local training data in client order (builds a fresh copy on each call).
    public var centralisedTrain: Dataset {
        // Cannot throw: indices are in range and rotation on non-images was rejected in init.
        let parts = (0..<spec.clients).compactMap { try? client($0).train }
        return Dataset.concatenating(parts, sampleShape: trainPool.sampleShape, classes: trainPool.classes,
                                     valueRange: trainPool.valueRange)
    }
}
