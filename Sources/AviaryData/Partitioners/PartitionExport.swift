import AviaryMath

/// `aviary partition --export FILE`: every client's sample indices in one NumPy `.npz` archive
/// (an uncompressed ZIP of `.npy` arrays, which `numpy.load` reads with no other package), so a
/// client in another language trains on exactly the split Swift clients use. Four int64 arrays:
/// `train_indices` and `test_indices` (every client's indices, client after client) and
/// `train_offsets` and `test_offsets` (clients + 1 entries): client c's training indices are
/// `train_indices[train_offsets[c]:train_offsets[c + 1]]` (docs/TOPOLOGY.md, "Exported partitions").
public struct PartitionExport: Sendable, Equatable {
    /// Per client: its local training indices and its local held-out (test) indices.
    public var train: [[Int]]
    public var test: [[Int]]

    public init(train: [[Int]], test: [[Int]]) {
        precondition(train.count == test.count)
        self.train = train; self.test = test
    }

    /// The local splits of `partition` (`LocalSplit` with the run's test fraction and seed), as a run builds them.
    public init(partition: Partition, localTestFraction: Double, seed: UInt64) {
        var train: [[Int]] = [], test: [[Int]] = []
        for (client, indices) in partition.clientIndices.enumerated() {
            let split = LocalSplit.split(indices, testFraction: localTestFraction, seed: seed, client: client)
            train.append(split.train)
            test.append(split.test)
        }
        self.init(train: train, test: test)
    }

    /// The `.npz` archive's bytes.
    public func npz() -> [UInt8] {
        func flat(_ lists: [[Int]]) -> (indices: [Int], offsets: [Int]) {
            var offsets = [0]
            offsets.reserveCapacity(lists.count + 1)
            for l in lists { offsets.append(offsets.last! + l.count) }
            return (lists.flatMap { $0 }, offsets)
        }
        let (trainIndices, trainOffsets) = flat(train), (testIndices, testOffsets) = flat(test)
        return Self.zip([("train_indices.npy", Self.npy(trainIndices)), ("train_offsets.npy", Self.npy(trainOffsets)),
                         ("test_indices.npy", Self.npy(testIndices)), ("test_offsets.npy", Self.npy(testOffsets))])
    }

    /// A one-dimensional little-endian int64 array in NPY format 1.0 (header padded to 64 bytes).
    static func npy(_ values: [Int]) -> [UInt8] {
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (\(values.count),), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out.append(contentsOf: le(UInt16(header.utf8.count)))
        out.append(contentsOf: header.utf8)
        out.reserveCapacity(out.count + values.count * 8)
        for v in values { out.append(contentsOf: le(UInt64(bitPattern: Int64(v)))) }
        return out
    }

    /// An uncompressed (stored) ZIP archive of `files`; no ZIP64, so each file and the archive stay under 4 GiB.
    static func zip(_ files: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in files {
            let offset = UInt32(out.count)
            // Version 2.0, no flags, stored, 1980-01-01 00:00 (a fixed time keeps exports byte-identical).
            var fields: [UInt8] = []
            for v: UInt16 in [20, 0, 0, 0, 0x21] { fields += le(v) }
            for v: UInt32 in [CRC32.checksum(data), UInt32(data.count), UInt32(data.count)] { fields += le(v) }
            fields += le(UInt16(name.utf8.count))
            fields += le(UInt16(0))
            out += le(UInt32(0x0403_4b50))
            out += fields
            out += Array(name.utf8)
            out += data
            central += le(UInt32(0x0201_4b50))
            central += le(UInt16(20))
            central += fields
            for v: UInt16 in [0, 0, 0] { central += le(v) }  // comment length, disk, internal attributes
            central += le(UInt32(0))                           // external attributes
            central += le(offset)
            central += Array(name.utf8)
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le(UInt32(0x0605_4b50))
        for v: UInt16 in [0, 0, UInt16(files.count), UInt16(files.count)] { out += le(v) }
        out += le(UInt32(central.count))
        out += le(centralOffset)
        out += le(UInt16(0))
        return out
    }

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

extension FederatedDataset {
    /// Every client's local training and held-out indices into `trainPool` (the source's training
    /// split, after `train_limit`), as `client(_:)` uses them; nil for Synthetic(α,β)'s devices,
    /// which are generated per client and have no pool to index.
    public var exportedPartition: PartitionExport? {
        guard let partition else { return nil }
        return PartitionExport(partition: partition, localTestFraction: spec.localTestFraction, seed: spec.partitionSeed)
    }
}
