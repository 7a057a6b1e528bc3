import Foundation
import AviaryData
import Testing

/// Fashion-MNIST from Debian's dataset-fashion-mnist, read once per test process with the project's
/// own `IDXLoader`, so the tests train on exactly what the simulator loads.
enum FashionMNISTFixture {
    static let directory = "/usr/share/datasets/fashion-mnist"
    static let skipMessage: Comment = "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"

    /// True when all four IDX files are present, gzipped or inflated (as `IDXLoader` accepts them).
    static var isAvailable: Bool {
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].allSatisfy { name in
            let base = "\(directory)/\(name)"
            return FileManager.default.fileExists(atPath: base + ".gz") || FileManager.default.fileExists(atPath: base)
        }
    }

    /// Both full splits (60,000 train and 10,000 test images, in file order); a load error fails the calling test.
    static func splits() throws -> (train: Dataset, test: Dataset) { try loaded.get() }

    // A Result rather than fatalError so a corrupt file fails the tests that need it, not the whole process.
    private static let loaded: Result<(train: Dataset, test: Dataset), any Error> = Result {
        try IDXLoader.loadFashionMNIST(directory: directory)
    }
}
