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
    /// CIFAR-10 or CIFAR-100 binary files in `directory` (as unpacked from the official archive).
    case cifar(directory: String, variant: CIFARLoader.Variant)
    /// LEAF's JSON files in `directory`/train and `directory`/test; owners are LEAF's users.
    case leaf(directory: String, task: LEAFLoader.Task)

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
        case .cifar(_, .cifar10): return "cifar10"
        case .cifar(_, .cifar100Fine): return "cifar100"
        case .cifar(_, .cifar100Coarse): return "cifar100-coarse"
        case .leaf(_, let task): return task.rawValue
        }
    }
}
