import AviaryMath

/// Reads IDX image/label pairs (MNIST, Fashion-MNIST), gzipped or raw, scaling pixels to [0, 1].
public enum IDXLoader {
    /// Magic numbers: two zero bytes, type 0x08 (unsigned byte), then the number of dimensions.
    static let imagesMagic: UInt32 = 0x0000_0803
    static let labelsMagic: UInt32 = 0x0000_0801

    /// Hint for files missing from the default Fashion-MNIST directory.
    public static let fashionMNISTHint =
        "Install Debian's copy with `apt-get install dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist), or point the dataset at a directory holding Zalando's four IDX files."
    /// Hint for other IDX files (MNIST is not packaged by Debian).
    public static let idxHint =
        "MNIST is not packaged by Debian: download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (e.g. from https://ossci-datasets.s3.amazonaws.com/mnist/) and pass their paths."

    /// Loads Fashion-MNIST's train and test splits from `directory` (`.gz` or already inflated files).
    public static func loadFashionMNIST(directory: String) throws -> (train: Dataset, test: Dataset) {
        let p = try fashionMNISTPaths(directory: directory)
        return try loadSplits(trainImages: p[0], trainLabels: p[1], testImages: p[2], testLabels: p[3],
                              classes: 10, hint: fashionMNISTHint)
    }

    /// The four Fashion-MNIST files in `directory` (train images, train labels, test images, test labels).
    static func fashionMNISTPaths(directory: String) throws -> [String] {
        func locate(_ name: String) throws -> String {
            let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if SourceFile.exists(base + ".gz") { return base + ".gz" }
            if SourceFile.exists(base) { return base }
            throw DatasetError.fileMissing(path: base + ".gz", hint: fashionMNISTHint)
        }
        return try ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte"].map(locate)
    }

    /// Loads two IDX pairs; `classes` nil infers `max label + 1` over both splits.
    public static func loadSplits(trainImages: String, trainLabels: String, testImages: String,
                                  testLabels: String, classes: Int? = nil,
                                  hint: String = idxHint) throws -> (train: Dataset, test: Dataset) {
        var train = try loadPair(images: trainImages, labels: trainLabels, classes: classes, hint: hint)
        var test = try loadPair(images: testImages, labels: testLabels, classes: classes, hint: hint)
        guard train.sampleShape == test.sampleShape else {
            throw DatasetError.shapeMismatch(path: testImages,
                                             problem: "test images are \(test.sampleShape), train images \(train.sampleShape); use images of the same size")
        }
        let inferred = classes ?? Int(max(train.labels.max() ?? 0, test.labels.max() ?? 0)) + 1
        train.classes = inferred
        test.classes = inferred
        return (train, test)
    }

    /// Pixel bytes scale to [0, 1] by this factor (Float arithmetic: `Float(byte) * pixelScale`).
    public static let pixelScale: Float = 1.0 / 255.0

    /// One decoded images/labels pair, still as bytes.
    struct DecodedPair {
        /// The whole inflated image file; pixels start at `pixelOffset`.
        var imageFile: [UInt8]
        var pixelOffset: Int
        var labels: [UInt8]
        var count: Int, rows: Int, cols: Int
        var pixelCount: Int { count * rows * cols }
    }

    /// Loads one images/labels pair; labels are checked against `classes` when given. Pixels
    /// stay bytes in memory and are scaled to Float32 per batch.
    public static func loadPair(images: String, labels: String, classes: Int?, hint: String = idxHint) throws -> Dataset {
        let pair = try decodePair(images: images, labels: labels, classes: classes, hint: hint)
        let labelValues = pair.labels.map { Int32($0) }
        let storage = SampleStorage(bytes: Array(pair.imageFile[pair.pixelOffset..<(pair.pixelOffset + pair.pixelCount)]),
                                    scale: pixelScale, labels: labelValues, width: pair.rows * pair.cols)
        return Dataset(samples: SampleView(storage: storage), sampleShape: [1, pair.rows, pair.cols],
                       classes: classes ?? Int(labelValues.max()!) + 1, valueRange: 0...1)
    }

    /// Reads and validates one pair without converting pixels.
    static func decodePair(images: String, labels: String, classes: Int?, hint: String) throws -> DecodedPair {
        let imageBytes = try SourceFile.bytes(images, hint: hint)
        let labelBytes = try SourceFile.bytes(labels, hint: hint)

        let imageDims = try header(imageBytes, path: images, magic: imagesMagic, dims: 3)
        let (n, rows, cols) = (imageDims[0], imageDims[1], imageDims[2])
        let imageOffset = 16
        let needed = imageOffset + n * rows * cols
        guard imageBytes.count >= needed else {
            throw DatasetError.truncated(path: images, expectedBytes: needed, actualBytes: imageBytes.count)
        }
        let labelDims = try header(labelBytes, path: labels, magic: labelsMagic, dims: 1)
        let labelOffset = 8
        guard labelBytes.count >= labelOffset + labelDims[0] else {
            throw DatasetError.truncated(path: labels, expectedBytes: labelOffset + labelDims[0], actualBytes: labelBytes.count)
        }
        guard labelDims[0] == n else {
            throw DatasetError.countMismatch(images: images, labels: labels, imageCount: n, labelCount: labelDims[0])
        }
        guard n > 0 else { throw DatasetError.empty(path: images) }
        let labelValues = Array(labelBytes[labelOffset..<(labelOffset + n)])
        if let classes {
            for (i, l) in labelValues.enumerated() where Int(l) >= classes {
                throw DatasetError.labelOutOfRange(path: labels, sample: i, label: Int64(l), classes: classes)
            }
        }
        return DecodedPair(imageFile: imageBytes, pixelOffset: imageOffset, labels: labelValues, count: n, rows: rows, cols: cols)
    }

    /// Validates the magic number and returns the big-endian dimension sizes.
    static func header(_ bytes: [UInt8], path: String, magic: UInt32, dims: Int) throws -> [Int] {
        let headerSize = 4 + 4 * dims
        guard bytes.count >= 4 else {
            throw DatasetError.truncated(path: path, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        let found = readUInt32BE(bytes, 0)
        guard found == magic else { throw DatasetError.badMagic(path: path, expected: magic, found: found) }
        guard bytes.count >= headerSize else {
            throw DatasetError.truncated(path: path, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        return (0..<dims).map { Int(readUInt32BE(bytes, 4 + 4 * $0)) }
    }

    static func readUInt32BE(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
