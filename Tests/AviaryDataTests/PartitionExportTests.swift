import Foundation
import Testing
@testable import AviaryData
import AviaryMath

/// `aviary partition --export`'s archive: the indices it holds are the ones `client(_:)` uses,
/// and the bytes are a ZIP of NPY arrays that read back (numpy's side: Tests/Python/test_partition_export.py).
@Suite struct PartitionExportTests {
    /// Sample i's one feature is i, so a client's features name its indices.
    @Test func exportHoldsTheIndicesEveryClientTrainsAndTestsOn() throws {
        let dir = try TemporaryDirectory()
        let n = 400
        let x = try dir.write("x.npy", npyFile(descr: "<f4", shape: [n], payload: littleEndianBytes((0..<n).map { Float($0).bitPattern })))
        let y = try dir.write("y.npy", npyFile(descr: "<i8", shape: [n], payload: littleEndianBytes((0..<n).map { Int64($0 % 4) })))
        // With a test file the training pool is the training file in order (without one, the
        // held-out samples come out of it first and indices point into what remains).
        let tx = try dir.write("tx.npy", npyFile(descr: "<f4", shape: [8], payload: littleEndianBytes((0..<8).map { Float(-1 - $0).bitPattern })))
        let ty = try dir.write("ty.npy", npyFile(descr: "<i8", shape: [8], payload: littleEndianBytes((0..<8).map { Int64($0 % 4) })))
        let spec = DataSpec(dataset: .npy(trainX: x, trainY: y, testX: tx, testY: ty), partition: .dirichlet(alpha: 0.3, minSize: 5),
                            clients: 5, partitionSeed: 9, localTestFraction: 0.2)
        let fed = try FederatedDataset(spec: spec)
        let exported = try #require(fed.exportedPartition)
        #expect(exported.train.count == 5)
        for k in 0..<5 {
            let client = try fed.client(k)
            #expect(client.train.features == exported.train[k].map(Float.init), "client \(k) train")
            #expect(client.test.features == exported.test[k].map(Float.init), "client \(k) test")
        }

        let arrays = try Self.unzip(exported.npz())
        #expect(arrays.map(\.name) == ["train_indices.npy", "train_offsets.npy", "test_indices.npy", "test_offsets.npy"])
        func ints(_ i: Int) throws -> [Int] {
            let a = try NPYLoader.parse(arrays[i].data, path: arrays[i].name)
            #expect(a.descr == "<i8")
            return try NPYLoader.integers(a, path: arrays[i].name, classes: nil).map(Int.init)
        }
        let (trainIndices, trainOffsets, testIndices, testOffsets) = (try ints(0), try ints(1), try ints(2), try ints(3))
        #expect(trainOffsets.count == 6 && testOffsets.count == 6)
        for k in 0..<5 {
            #expect(Array(trainIndices[trainOffsets[k]..<trainOffsets[k + 1]]) == exported.train[k])
            #expect(Array(testIndices[testOffsets[k]..<testOffsets[k + 1]]) == exported.test[k])
        }
        #expect(exported.npz() == exported.npz(), "an export is byte-identical every time")
    }

    @Test func syntheticDevicesHaveNoIndices() throws {
        let fed = try FederatedDataset(spec: DataSpec(dataset: .synthetic(alpha: 1, beta: 1, seed: 3), partition: .natural, clients: 3, partitionSeed: 1))
        #expect(fed.exportedPartition == nil)
    }

    /// The stored entries of a ZIP archive, in order, with their CRC-32 checked.
    static func unzip(_ bytes: [UInt8]) throws -> [(name: String, data: [UInt8])] {
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var out: [(String, [UInt8])] = []
        var at = 0
        while u32(at) == 0x0403_4b50 {
            #expect(u16(at + 8) == 0, "stored, not compressed")
            let size = u32(at + 18), nameLength = u16(at + 26), extra = u16(at + 28)
            let name = String(decoding: bytes[(at + 30)..<(at + 30 + nameLength)], as: UTF8.self)
            let start = at + 30 + nameLength + extra
            let data = Array(bytes[start..<(start + size)])
            #expect(CRC32.checksum(data) == UInt32(u32(at + 14)), "\(name)'s CRC-32")
            out.append((name, data))
            at = start + size
        }
        #expect(u32(bytes.count - 22) == 0x0605_4b50, "the archive ends with its end-of-central-directory record")
        return out
    }
}
