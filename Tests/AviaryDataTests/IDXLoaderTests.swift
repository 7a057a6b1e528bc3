import AviaryMath
import Foundation
import Testing
import AviaryTestSupport
@testable import AviaryData

@Suite struct IDXLoaderTests {
    static let fashionDirectory = DatasetSpec.defaultFashionMNISTDirectory

    @Test(.enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
    func realFashionMNISTHasExpectedCounts() throws {
        let (train, test) = try IDXLoader.loadFashionMNIST(directory: Self.fashionDirectory)
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.sampleShape == [1, 28, 28] && train.classes == 10 && train.valueRange == 0...1)
        #expect(train.labelHistogram() == [Int](repeating: 6_000, count: 10))
        #expect(test.labelHistogram() == [Int](repeating: 1_000, count: 10))
        #expect(train.features.min()! == 0 && train.features.max()! == 1)
        // Zalando's first training image is an ankle boot (class 9).
        #expect(train.labels[0] == 9)
    }

    @Test func gzippedAndRawFixturesLoadIdentically() throws {
        let dir = try TemporaryDirectory()
        let images = IDXFixture.images(count: 3, rows: 2, cols: 2)
        let labels = IDXFixture.labels([0, 2, 1])
        let gzImages = try dir.write("i.gz", images, gzip: true), gzLabels = try dir.write("l.gz", labels, gzip: true)
        let rawImages = try dir.write("i", images), rawLabels = try dir.write("l", labels)
        let a = try IDXLoader.loadPair(images: gzImages, labels: gzLabels, classes: 3)
        let b = try IDXLoader.loadPair(images: rawImages, labels: rawLabels, classes: 3)
        #expect(a == b)
        #expect(a.labels == [0, 2, 1])
        #expect(a.features[5] == Float(5) / 255)
    }

    @Test func missingDefaultDirectorySaysHowToInstall() throws {
        let dir = try TemporaryDirectory()
        do {
            _ = try IDXLoader.loadFashionMNIST(directory: dir.path)
            Issue.record("expected an error")
        } catch let error as DatasetError {
            guard case .fileMissing(let path, let hint) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path.hasSuffix("train-images-idx3-ubyte.gz"))
            #expect(hint.contains("apt-get install dataset-fashion-mnist"))
        }
    }

    @Test func missingIDXFileMentionsHowToGetMNIST() throws {
        let error = #expect(throws: DatasetError.self) {
            try IDXLoader.loadSplits(trainImages: "/nonexistent/a", trainLabels: "/nonexistent/b", testImages: "/c", testLabels: "/d")
        }
        #expect(error?.description.contains("/nonexistent/a") == true)
        #expect(error?.description.contains("MNIST") == true)
    }

    @Test func swappedFilesGiveBadMagic() throws {
        let dir = try TemporaryDirectory()
        let images = try dir.write("i", IDXFixture.images(count: 2, rows: 2, cols: 2))
        let labels = try dir.write("l", IDXFixture.labels([0, 1]))
        #expect(throws: DatasetError.badMagic(path: labels, expected: 0x0803, found: 0x0801)) {
            try IDXLoader.loadPair(images: labels, labels: images, classes: 2)
        }
    }

    @Test func truncatedImagesAreReported() throws {
        let dir = try TemporaryDirectory()
        let full = IDXFixture.images(count: 4, rows: 3, cols: 3)
        let images = try dir.write("i", Array(full.prefix(full.count - 5)))
        let labels = try dir.write("l", IDXFixture.labels([0, 1, 0, 1]))
        #expect(throws: DatasetError.truncated(path: images, expectedBytes: 16 + 36, actualBytes: 16 + 31)) {
            try IDXLoader.loadPair(images: images, labels: labels, classes: 2)
        }
    }

    @Test func truncatedGzipIsReported() throws {
        let dir = try TemporaryDirectory()
        let gz = try Gzip.compress(IDXFixture.images(count: 50, rows: 8, cols: 8, pixel: { UInt8(($0 * 37) % 251) }))
        let images = try dir.write("i.gz", Array(gz.prefix(gz.count / 2)))
        let labels = try dir.write("l", IDXFixture.labels([UInt8](repeating: 0, count: 50)))
        let error = #expect(throws: DatasetError.self) { try IDXLoader.loadPair(images: images, labels: labels, classes: 1) }
        guard case .unreadable(let path, let reason)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(path == images && reason.contains("truncated"))
    }

    @Test func countMismatchAndLabelRange() throws {
        let dir = try TemporaryDirectory()
        let images = try dir.write("i", IDXFixture.images(count: 3, rows: 2, cols: 2))
        let shortLabels = try dir.write("l2", IDXFixture.labels([0, 1]))
        let badLabels = try dir.write("l3", IDXFixture.labels([0, 1, 12]))
        #expect(throws: DatasetError.countMismatch(images: images, labels: shortLabels, imageCount: 3, labelCount: 2)) {
            try IDXLoader.loadPair(images: images, labels: shortLabels, classes: 10)
        }
        #expect(throws: DatasetError.labelOutOfRange(path: badLabels, sample: 2, label: 12, classes: 10)) {
            try IDXLoader.loadPair(images: images, labels: badLabels, classes: 10)
        }
    }
}
