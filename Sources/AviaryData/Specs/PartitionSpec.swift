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

extension PartitionSpec {
    /// Short name for messages.
    public var name: String {
        switch self {
        case .iid: return "iid"
        case .dirichlet: return "dirichlet"
        case .shards: return "shards"
        case .classesPerClient: return "classes-per-client"
        case .quantitySkew: return "quantity-skew"
        case .natural: return "natural"
        }
    }
}
