import Foundation
import Testing

/// Test-only Fashion-MNIST access: decompresses the Debian package's IDX `.gz` files with
/// `gzip -dc` into memory and scales pixels to [0, 1]. Tests that need it are disabled, with the
/// reason printed, when the files are missing.
struct FashionMNISTFixture: Sendable {
    static let directory = "/usr/share/datasets/fashion-mnist"
    static let skipReason: Comment = "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"
    static var isAvailable: Bool {
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
            .allSatisfy { FileManager.default.fileExists(atPath: "\(directory)/\($0)") }
    }

    let trainFeatures: [Float]
    let trainLabels: [Int32]
    let testFeatures: [Float]
    let testLabels: [Int32]

    /// The first 6,000 training and 2,000 test images, loaded once per test process.
    static let shared: FashionMNISTFixture = {
        do {
            return try FashionMNISTFixture(trainCount: 6000, testCount: 2000)
        } catch {
            fatalError("Fashion-MNIST fixture: \(error)")
        }
    }()

    init(trainCount: Int, testCount: Int) throws {
        trainFeatures = try Self.images("train-images-idx3-ubyte.gz", count: trainCount)
        trainLabels = try Self.labels("train-labels-idx1-ubyte.gz", count: trainCount)
        testFeatures = try Self.images("t10k-images-idx3-ubyte.gz", count: testCount)
        testLabels = try Self.labels("t10k-labels-idx1-ubyte.gz", count: testCount)
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
    }

    static func images(_ name: String, count: Int) throws -> [Float] {
        let bytes = try decompress(name)
        guard bytes.count >= 16, bigEndian(bytes, 0) == 0x0803 else { throw FixtureError(description: "\(name): not an IDX image file") }
        let n = Int(bigEndian(bytes, 4)), rows = Int(bigEndian(bytes, 8)), cols = Int(bigEndian(bytes, 12))
        let take = min(count, n), d = rows * cols
        guard bytes.count >= 16 + n * d else { throw FixtureError(description: "\(name): truncated") }
        return bytes[16..<(16 + take * d)].map { Float($0) / 255 }
    }

    static func labels(_ name: String, count: Int) throws -> [Int32] {
        let bytes = try decompress(name)
        guard bytes.count >= 8, bigEndian(bytes, 0) == 0x0801 else { throw FixtureError(description: "\(name): not an IDX label file") }
        let n = Int(bigEndian(bytes, 4)), take = min(count, n)
        return bytes[8..<(8 + take)].map { Int32($0) }
    }

    static func bigEndian(_ b: [UInt8], _ at: Int) -> UInt32 {
        (UInt32(b[at]) << 24) | (UInt32(b[at + 1]) << 16) | (UInt32(b[at + 2]) << 8) | UInt32(b[at + 3])
    }

    static func decompress(_ name: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", "\(directory)/\(name)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FixtureError(description: "gzip -dc \(name) exited with \(process.terminationStatus)") }
        return [UInt8](data)
    }
}
