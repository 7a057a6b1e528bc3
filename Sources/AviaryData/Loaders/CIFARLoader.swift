import AviaryMath

/// Reads the CIFAR-10 and CIFAR-100 binary versions ("suitable for C programs"): fixed-size
/// records of label byte(s) then 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, each a
/// row-major 32×32 plane), which is already the C×H×W order the models take. Pixels stay bytes
/// in memory and scale to [0, 1] per batch, as IDX images do.
public enum CIFARLoader {
    /// Which CIFAR and, for CIFAR-100, which of its two label bytes.
    public enum Variant: String, Codable, Sendable, Hashable {
        case cifar10
        /// CIFAR-100's 100 fine classes (the second label byte).
        case cifar100Fine
        /// CIFAR-100's 20 superclasses (the first label byte).
        case cifar100Coarse

        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var labelIndex: Int { self == .cifar100Fine ? 1 : 0 }
        public var classes: Int {
            switch self {
            case .cifar10: return 10
            case .cifar100Fine: return 100
            case .cifar100Coarse: return 20
            }
        }
        /// Files of each split, in the order their samples are concatenated.
        var trainFiles: [String] { self == .cifar10 ? (1...5).map { "data_batch_\($0).bin" } : ["train.bin"] }
        var testFiles: [String] { self == .cifar10 ? ["test_batch.bin"] : ["test.bin"] }
        var hint: String {
            self == .cifar10
                ? "Download the binary version, https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530), unpack it and point [data] directory at cifar-10-batches-bin."
                : "Download the binary version, https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (md5 03b5dce01913d631647c71ecec9e9cb8), unpack it and point [data] directory at cifar-100-binary."
        }
    }

    /// Pixels per image: 3 × 32 × 32.
    public static let imageBytes = 3 * 32 * 32
    public static let sampleShape = [3, 32, 32]

    /// Train and test splits from `directory` (files as unpacked from the official archive).
    public static func load(directory: String, variant: Variant) throws -> (train: Dataset, test: Dataset) {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return (try load(files: variant.trainFiles.map { base + $0 }, variant: variant),
                try load(files: variant.testFiles.map { base + $0 }, variant: variant))
    }

    /// The records of `files`, concatenated in order.
    public static func load(files: [String], variant: Variant) throws -> Dataset {
        var pixels: [UInt8] = [], labels: [Int32] = []
        for path in files { try read(path, variant: variant, pixels: &pixels, labels: &labels) }
        let storage = SampleStorage(bytes: pixels, scale: IDXLoader.pixelScale, labels: labels, width: imageBytes)
        return Dataset(samples: SampleView(storage: storage), sampleShape: sampleShape, classes: variant.classes, valueRange: 0...1)
    }

    /// Appends one file's records; a file that is not a whole number of records, or a label
    /// outside the variant's classes, is an error naming the file and the record's byte offset.
    static func read(_ path: String, variant: Variant, pixels: inout [UInt8], labels: inout [Int32]) throws {
        let bytes = try SourceFile.bytes(path, hint: variant.hint)
        let record = variant.labelBytes + imageBytes
        guard !bytes.isEmpty else { throw DatasetError.empty(path: path) }
        let whole = bytes.count / record
        if whole * record != bytes.count {
            throw DatasetError.truncatedRecord(path: path, offset: whole * record, recordBytes: record,
                                               found: bytes.count - whole * record)
        }
        pixels.reserveCapacity(pixels.count + whole * imageBytes)
        for r in 0..<whole {
            let offset = r * record
            for (i, classes) in zip(0..<variant.labelBytes, variant == .cifar10 ? [10] : [20, 100]) where bytes[offset + i] >= classes {
                throw DatasetError.corruptRecord(path: path, offset: offset + i,
                                                 problem: "label byte \(bytes[offset + i]) of record \(r) is not below \(classes); is this a \(variant == .cifar10 ? "CIFAR-10" : "CIFAR-100") binary file?")
            }
            labels.append(Int32(bytes[offset + variant.labelIndex]))
            pixels.append(contentsOf: bytes[(offset + variant.labelBytes)..<(offset + record)])
        }
    }
}
