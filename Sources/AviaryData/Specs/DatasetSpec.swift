/// Where a federation's samples come from.
public enum DatasetSpec: Codable, Sendable, Hashable {
    /// FedProx's Synthetic(α, β); one device per client, naturally partitioned.
    case synthetic(alpha: Double, beta: Double, seed: UInt64)
    /// Fashion-MNIST IDX files (gz or raw) in `directory`.
    case fashionMNIST(directory: String)
    /// Any IDX image/label pairs (e.g. MNIST), by path.
    case idx(trainImages: String, trainLabels: String, testImages: String, testLabels: String)
    /// Numeric CSV with a header; all columns except label and owner are features.
    case csv(train: String, test: String?, labelColumn: String, ownerColumn: String?)
    /// NumPy arrays x (n, …) and y (n,).
    case npy(trainX: String, trainY: String, testX: String?, testY: String?)

    /// Debian's dataset-fashion-mnist install location.
    public static let defaultFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Short name for logs and tables.
    public var name: String {
        switch self {
        case .synthetic(let a, let b, _): return "synthetic(\(a),\(b))"
        case .fashionMNIST: return "fashion-mnist"
        case .idx: return "idx"
        case .csv: return "csv"
        case .npy: return "npy"
        }
    }
}

/// How the training pool is divided among clients.
public enum PartitionSpec: Codable, Sendable, Hashable {
    /// Uniform random; equal sizes (differing by at most one) or the given sizes.
    case iid(sizes: [Int]?)
    /// Label skew, per-class proportions ~ Dir(α); every client gets at least `minSize`.
    case dirichlet(alpha: Double, minSize: Int)
    /// McMahan's pathological shards: sorted by label, `perClient` shards each.
    case shards(perClient: Int, shardsTotal: Int?)
    /// Each client holds exactly this many classes.
    case classesPerClient(Int)
    /// IID labels with skewed sizes.
    case quantitySkew(QuantitySkew)
    /// Group by the dataset's owners (writers, devices).
    case natural

    /// Runs the matching partitioner over labels (and owners, for `.natural`).
    public func partition(labels: [Int32], owners: [Int32]?, classes: Int, clients: Int,
                          seed: UInt64, datasetName: String = "this dataset") throws -> Partition {
        switch self {
        case .iid(let sizes):
            return try IIDPartitioner.partition(sampleCount: labels.count, clients: clients, sizes: sizes, seed: seed)
        case .dirichlet(let alpha, let minSize):
            return try DirichletPartitioner.partition(labels: labels, classes: classes, clients: clients,
                                                      alpha: alpha, minSize: minSize, seed: seed)
        case .shards(let perClient, let total):
            return try ShardPartitioner.partition(labels: labels, classes: classes, clients: clients,
                                                  perClient: perClient, shardsTotal: total, seed: seed)
        case .classesPerClient(let k):
            return try ClassesPerClientPartitioner.partition(labels: labels, classes: classes, clients: clients,
                                                             classesPerClient: k, seed: seed)
        case .quantitySkew(let skew):
            return try QuantitySkewPartitioner.partition(sampleCount: labels.count, clients: clients, skew: skew, seed: seed)
        case .natural:
            guard let owners else { throw PartitionError.missingOwners(dataset: datasetName) }
            return try NaturalPartitioner.partition(owners: owners, clients: clients, seed: seed)
        }
    }
}

/// Everything that determines a federation's data: source, partition, skew and seeds.
public struct DataSpec: Codable, Sendable, Hashable {
    public var dataset: DatasetSpec
    public var partition: PartitionSpec
    /// Per-client input transform applied on top of the partition; nil = none.
    public var featureSkew: FeatureSkew?
    /// Number of clients (for synthetic: number of devices).
    public var clients: Int
    /// Seed of the partition, local splits and feature skew.
    public var partitionSeed: UInt64
    /// Fraction of each client's samples held out as its local test set, in [0, 1).
    public var localTestFraction: Double
    /// Use only the first N training samples (quick runs and tests). For synthetic data the cap
    /// applies per device (each device keeps at most N local training samples), so the natural
    /// partition survives. The test split is not limited.
    public var trainLimit: Int?

    public init(dataset: DatasetSpec, partition: PartitionSpec, featureSkew: FeatureSkew? = nil,
                clients: Int, partitionSeed: UInt64 = 0, localTestFraction: Double = 0.1, trainLimit: Int? = nil) {
        self.dataset = dataset
        self.partition = partition
        self.featureSkew = featureSkew
        self.clients = clients
        self.partitionSeed = partitionSeed
        self.localTestFraction = localTestFraction
        self.trainLimit = trainLimit
    }
}
