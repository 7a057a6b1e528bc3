import AviaryMath
import Synchronization

/// One client's local data: what it trains on and what it evaluates on (feature skew applied).
/// Both are views (an index list into the shared storage) unless the client has feature skew.
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
///
/// Memory: file-backed samples live once per process (IDX: in a memory-mapped cache file shared
/// by all processes); a client is its index lists. Synthetic devices under the natural
/// partition are generated when `client(k)` asks for them. A client with feature skew gets
/// its own transformed Float32 copy, built on each `client(k)` call.
public final class FederatedDataset: Sendable {
    public let spec: DataSpec
    /// Remarks about how the data was built (fallbacks, hold-outs, cache rebuilds, test set size); the server logs them.
    public let notes: [String]
    /// The partitioned training pool (after `trainLimit`); nil for synthetic devices generated on demand.
    public let trainPool: Dataset?
    /// The partition of `trainPool`, before local splits; nil for synthetic devices generated on demand.
    public let partition: Partition?
    /// Shape of one sample, class count and valid range (the same for every client and the test set).
    public let sampleShape: [Int]
    public let classes: Int
    public let valueRange: ClosedRange<Float>?

    private enum Backend: Sendable {
        /// Local train/test index lists into `pool` (local test never touches the held-out set).
        case pooled(pool: Dataset, heldOut: Dataset, train: [[Int]], test: [[Int]])
        case devices(SyntheticDevices)
    }
    private let backend: Backend
    private let stats = Mutex<PartitionStats?>(nil)
    private let test = Mutex<Dataset?>(nil)

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

    /// Loads the source, partitions it and computes local splits (statistics and the server's
    /// test set are built on first use).
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
        if let n = spec.testSamples, n < 1 {
            throw DatasetError.invalidParameter(source: "data spec", problem: "test_samples must be positive, got \(n)")
        }
        self.spec = spec
        var notes: [String] = []
        if case let .synthetic(alpha, beta, seed) = spec.dataset, spec.partition == .natural {
            guard alpha >= 0, beta >= 0, alpha.isFinite, beta.isFinite else {
                throw DatasetError.invalidParameter(source: "synthetic", problem: "alpha and beta are standard deviations and must be ≥ 0, got \(alpha), \(beta)")
            }
            if let skew = spec.featureSkew, skew.maxRotationDegrees != 0 {
                throw DatasetError.invalidParameter(source: "feature skew", problem: "rotation needs image samples but \(spec.dataset.name) samples have shape [\(SyntheticGenerator.dimension)]; set max rotation to 0")
            }
            let devices = SyntheticDevices(alpha: alpha, beta: beta, seed: seed, partitionSeed: spec.partitionSeed,
                                           trainLimit: spec.trainLimit, devices: spec.clients)
            backend = .devices(devices)
            trainPool = nil
            partition = nil
            sampleShape = [SyntheticGenerator.dimension]
            classes = SyntheticGenerator.classes
            valueRange = nil
            let pool = (0..<devices.count).reduce(0) { $0 + devices.serverTestCount($1) }
            notes.append(Self.testNote(pool: pool, limit: spec.testSamples,
                                       what: "whole devices' server halves in a seeded device order; each device's test split is halved between the server and the device's local validation"))
        } else {
            let source = try DatasetSource.load(spec, notes: &notes)
            let pool = source.train
            if let skew = spec.featureSkew, skew.maxRotationDegrees != 0, pool.sampleShape.count < 2 {
                throw DatasetError.invalidParameter(source: "feature skew", problem: "rotation needs image samples but \(spec.dataset.name) samples have shape \(pool.sampleShape); set max rotation to 0")
            }
            var partition = try spec.partition.partition(labels: pool.labels, owners: pool.owners,
                                                         classes: pool.classes, clients: spec.clients,
                                                         seed: spec.partitionSeed, datasetName: spec.dataset.name)
            notes += partition.notes
            var train: [[Int]] = [], test: [[Int]] = []
            for (client, indices) in partition.clientIndices.enumerated() {
                let split = LocalSplit.split(indices, testFraction: spec.localTestFraction, seed: spec.partitionSeed, client: client)
                train.append(split.train)
                test.append(split.test)
            }
            partition.notes = []
            notes.append(Self.testNote(pool: source.test.count, limit: spec.testSamples, what: "the held-out split"))
            backend = .pooled(pool: pool, heldOut: source.test, train: train, test: test)
            trainPool = pool
            self.partition = partition
            sampleShape = pool.sampleShape
            classes = pool.classes
            valueRange = pool.valueRange
        }
        self.notes = notes
    }

    private static func testNote(pool: Int, limit: Int?, what: String) -> String {
        if let limit, limit < pool {
            return "server test set: \(limit) of \(pool) held-out samples (seeded subset of \(what))"
        }
        return "server test set: all \(pool) held-out samples (\(what))"
    }

    /// Client `index`'s local train and test data, feature skew applied.
    public func client(_ index: Int) throws -> ClientData {
        guard index >= 0, index < spec.clients else {
            throw PartitionError.clientOutOfRange(index: index, clients: spec.clients)
        }
        var train: Dataset, test: Dataset
        switch backend {
        case let .pooled(pool, _, localTrain, localTest):
            train = pool.subset(localTrain[index])
            test = pool.subset(localTest[index])
        case let .devices(devices):
            (train, test) = devices.client(index)
        }
        if let skew = spec.featureSkew, skew.isActive {
            let transform = skew.transform(client: index, clients: spec.clients, seed: spec.partitionSeed)
            train = try transform.apply(to: train, split: .train)
            test = try transform.apply(to: test, split: .test)
        }
        return ClientData(train: train, test: test)
    }

    /// Sizes of client `index`'s local train and test splits, without building its data.
    public func clientSizes(_ index: Int) throws -> (train: Int, test: Int) {
        guard index >= 0, index < spec.clients else {
            throw PartitionError.clientOutOfRange(index: index, clients: spec.clients)
        }
        switch backend {
        case let .pooled(_, _, train, test):
            return (train[index].count, test[index].count)
        case let .devices(devices):
            let t = Int(devices.sizes[index]) - devices.trainSplit(index)
            return (devices.trainCount(index), t - devices.serverTestCount(index))
        }
    }

    /// The server's test set: the held-out data (the source's test split; synthetic natural: the
    /// server's half of every device's test split), or a seeded subset of `spec.testSamples` of it.
    /// Built on first use and kept.
    public func globalTest() -> Dataset {
        test.withLock { cached in
            if let cached { return cached }
            let built: Dataset
            switch backend {
            case let .pooled(_, heldOut, _, _):
                if let limit = spec.testSamples, limit < heldOut.count {
                    var rng = RandomStream(seed: spec.partitionSeed, purpose: .evaluation, index: 2)
                    built = heldOut.subset(rng.permutation(heldOut.count)[..<limit].sorted())
                } else {
                    built = heldOut
                }
            case let .devices(devices):
                built = devices.heldOut(limit: spec.testSamples)
            }
            cached = built
            return built
        }
    }

    /// Label statistics of the partition (before local splits), with the build notes. Per-client
    /// entries are bounded (`PartitionStats.listedClientLimit`). Computed on first use and kept.
    public func statistics() -> PartitionStats {
        stats.withLock { cached in
            if let cached { return cached }
            var built: PartitionStats
            switch backend {
            case let .pooled(pool, _, _, _):
                built = PartitionStats(partition: partition!, labels: pool.labels, classes: pool.classes)
                built.notes = notes
            case let .devices(devices):
                built = devices.statistics(listed: PartitionStats.listedClientLimit, notes: notes)
            }
            cached = built
            return built
        }
    }

    /// Union of all clients' local training data in client order (builds a fresh copy on each call).
    public var centralisedTrain: Dataset {
        // Cannot throw: indices are in range and rotation on non-images was rejected in init.
        let parts = (0..<spec.clients).compactMap { try? client($0).train }
        return Dataset.concatenating(parts, sampleShape: sampleShape, classes: classes, valueRange: valueRange)
    }
}
