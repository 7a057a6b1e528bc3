import AviaryData
import Foundation
import Testing

/// Test-only Fashion-MNIST: the first 6,000 training and 2,000 test images of Debian's
/// dataset-fashion-mnist, read once per test process with the project's own `IDXLoader` (pixels in
/// [0, 1]). Tests that need it are disabled, with the reason printed, when the files are missing.
struct FashionMNISTFixture: Sendable {
    static let directory = "/usr/share/datasets/fashion-mnist"
    static let skipReason: Comment = "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"

    /// True when all four IDX files are present, gzipped or inflated (as `IDXLoader` accepts them).
    static var isAvailable: Bool {
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].allSatisfy { name in
            let base = "\(directory)/\(name)"
            return FileManager.default.fileExists(atPath: base + ".gz") || FileManager.default.fileExists(atPath: base)
        }
    }

    /// The first 6,000 training images, in file order.
    let train: Dataset
    /// The first 2,000 test images, in file order.
    let test: Dataset

    /// The fixture, loaded on first use; a load error fails the calling test.
    static func shared() throws -> FashionMNISTFixture { try loaded.get() }

    // A Result rather than fatalError so a corrupt file fails the tests that need it, not the whole process.
    // Only the prefixes are kept, so the full 60,000-image split is freed after loading.
    private static let loaded: Result<FashionMNISTFixture, any Error> = Result {
        let splits = try IDXLoader.loadFashionMNIST(directory: directory)
        return FashionMNISTFixture(train: splits.train.prefix(6000), test: splits.test.prefix(2000))
    }
}
