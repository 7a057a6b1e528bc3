import Foundation
import Testing
@testable import AviaryData

/// CIFAR binary files written by the tests in the real record format: label byte(s), then
/// 1,024 red, 1,024 green and 1,024 blue bytes.
enum CIFARFixture {
    /// Record i has labels `labels[i]` and pixel j = (i·7 + j) mod 256.
    static func records(_ labels: [[UInt8]]) -> [UInt8] {
        labels.enumerated().flatMap { i, l in l + (0..<CIFARLoader.imageBytes).map { UInt8((i * 7 + $0) % 256) } }
    }
}

@Suite struct CIFARLoaderTests {
    @Test func cifar10SplitsConcatenateBatchesInOrder() throws {
        let dir = try TemporaryDirectory()
        for b in 1...5 { try dir.write("data_batch_\(b).bin", CIFARFixture.records([[UInt8(b)], [UInt8(b + 4)]])) }
        try dir.write("test_batch.bin", CIFARFixture.records([[9], [0], [3]]))
        let (train, test) = try CIFARLoader.load(directory: dir.path, variant: .cifar10)
        #expect(train.count == 10 && test.count == 3)
        #expect(train.labels == [1, 5, 2, 6, 3, 7, 4, 8, 5, 9])
        #expect(test.labels == [9, 0, 3])
        #expect(train.sampleShape == [3, 32, 32] && train.classes == 10 && train.valueRange == 0...1)
        // Sample 1 of a file: pixel j is (7 + j) mod 256, scaled to [0, 1]; the green plane starts at 1,024.
        let features = test.features
        #expect(features[CIFARLoader.imageBytes + 1024] == Float((7 + 1024) % 256) * IDXLoader.pixelScale)
    }

    @Test func cifar100ReadsFineOrCoarseLabels() throws {
        let dir = try TemporaryDirectory()
        try dir.write("train.bin", CIFARFixture.records([[3, 97], [19, 0]]))
        try dir.write("test.bin", CIFARFixture.records([[0, 42]]))
        let fine = try CIFARLoader.load(directory: dir.path, variant: .cifar100Fine)
        let coarse = try CIFARLoader.load(directory: dir.path, variant: .cifar100Coarse)
        #expect(fine.train.labels == [97, 0] && fine.test.labels == [42] && fine.train.classes == 100)
        #expect(coarse.train.labels == [3, 19] && coarse.train.classes == 20)
        #expect(fine.train.features == coarse.train.features)
    }

    @Test func truncatedFileNamesFileAndOffsetOfTheCutRecord() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("test_batch.bin", Array(CIFARFixture.records([[1], [2], [3]]).dropLast(100)))
        #expect(throws: DatasetError.truncatedRecord(path: path, offset: 2 * 3073, recordBytes: 3073, found: 2973)) {
            try CIFARLoader.load(files: [path], variant: .cifar10)
        }
        let message = DatasetError.truncatedRecord(path: path, offset: 6146, recordBytes: 3073, found: 2973).description
        #expect(message.contains(path) && message.contains("offset 6146"))
    }

    @Test func corruptLabelNamesFileAndOffset() throws {
        let dir = try TemporaryDirectory()
        let ten = try dir.write("ten.bin", CIFARFixture.records([[1], [10]]))
        do {
            _ = try CIFARLoader.load(files: [ten], variant: .cifar10)
            Issue.record("expected an error")
        } catch let DatasetError.corruptRecord(path, offset, problem) {
            #expect(path == ten && offset == 3073 && problem.contains("label byte 10 of record 1"))
        }
        // A CIFAR-100 file read as CIFAR-10: 3074-byte records do not divide into 3073-byte ones.
        let hundred = try dir.write("train.bin", CIFARFixture.records([[1, 2], [3, 4], [5, 6]]))
        #expect(throws: DatasetError.self) { try CIFARLoader.load(files: [hundred], variant: .cifar10) }
        let badFine = try dir.write("bad.bin", CIFARFixture.records([[1, 2], [3, 100]]))
        #expect(throws: DatasetError.corruptRecord(path: badFine, offset: 3074 + 1,
                                                   problem: "label byte 100 of record 1 is not below 100; is this a CIFAR-100 binary file?")) {
            try CIFARLoader.load(files: [badFine], variant: .cifar100Coarse)
        }
    }

    @Test func missingDirectoryPointsAtTheOfficialArchive() throws {
        let dir = try TemporaryDirectory()
        do {
            _ = try CIFARLoader.load(directory: dir.path, variant: .cifar10)
            Issue.record("expected an error")
        } catch let DatasetError.fileMissing(path, hint) {
            #expect(path.hasSuffix("data_batch_1.bin"))
            #expect(hint.contains("cifar-10-binary.tar.gz") && hint.contains("c32a1d4ab5d03f1284b67883e8d87530"))
        }
        #expect(throws: DatasetError.empty(path: try dir.write("empty.bin", []))) {
            try CIFARLoader.load(files: [dir.path + "/empty.bin"], variant: .cifar10)
        }
    }
}
