import Foundation
import AviaryData
import Testing

/// Test-only Fashion-MNIST from Debian's dataset-fashion-mnist, read once per test process with
/// the project's own `IDXLoader` (pixels in [0, 1]), so the tests train on exactly what the
/// simulator loads. Tests that need it are disabled, with `skipReason`, when the files are missing.
public enum FashionMNISTFixture {
    public static let directory = "/usr/share/datasets/fashion-mnist"
    /// A training and a test split.
    public typealias Splits = (train: Dataset, test: Dataset)

    public static let skipReason: Comment = "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"

    /// True when all four IDX files are present, gzipped or inflated (as `IDXLoader` accepts them).
    public static var isAvailable: Bool {
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].allSatisfy { name in
            let base = "\(directory)/\(name)"
            return FileManager.default.fileExists(atPath: base + ".gz") || FileManager.default.fileExists(atPath: base)
        }
    }

    /// Both full splits (60,000 train and 10,000 test images, in file order); a load error fails the calling test.
    public static func splits() throws -> Splits { try loaded.get() }

    /// The first 6,000 training and 2,000 test images, in file order: enough for the attack and
    /// adversarial-training tests, at a tenth of the cost.
    public static func small() throws -> Splits { try smallLoaded.get() }

    // A Result rather than fatalError so a corrupt file fails the tests that need it, not the whole process.
    private static let loaded: Result<Splits, any Error> = Result {
        try IDXLoader.loadFashionMNIST(directory: directory)
    }
    private static let smallLoaded: Result<Splits, any Error> = loaded.map {
        ($0.train.prefix(6000), $0.test.prefix(2000))
    }
}
