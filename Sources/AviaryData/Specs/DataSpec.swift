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
    /// Size of the server's test set: a seeded subset of the held-out data (`[evaluation]
    /// test_samples`); nil = all of it. Synthetic devices generate only what the subset needs.
    public var testSamples: Int?

    public init(dataset: DatasetSpec, partition: PartitionSpec, featureSkew: FeatureSkew? = nil,
                clients: Int, partitionSeed: UInt64 = 0, localTestFraction: Double = 0.1, trainLimit: Int? = nil,
                testSamples: Int? = nil) {
        self.dataset = dataset
        self.partition = partition
        self.featureSkew = featureSkew
        self.clients = clients
        self.partitionSeed = partitionSeed
        self.localTestFraction = localTestFraction
        self.trainLimit = trainLimit
        self.testSamples = testSamples
    }
}
