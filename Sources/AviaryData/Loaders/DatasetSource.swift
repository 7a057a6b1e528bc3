import AviaryMath

/// Turns a `DatasetSpec` into a training pool and a held-out test set. IDX sources come from
/// the memory-mapped `DatasetCache`; CSV, NPY and LEAF's JSON are parsed into memory (Float32),
/// CIFAR's bytes are kept as bytes.
/// Synthetic data under the natural partition never comes here: see `SyntheticDevices`.
enum DatasetSource {
    struct Loaded {
        var train: Dataset
        var test: Dataset
        var isSynthetic: Bool
    }

    /// Fraction of the training file held out as the global test set when no test file is given.
    static let heldOutFraction = 0.1

    static func load(_ spec: DataSpec, notes: inout [String]) throws -> Loaded {
        var train: Dataset, test: Dataset
        switch spec.dataset {
        case .synthetic(let alpha, let beta, let seed):
            guard alpha >= 0, beta >= 0, alpha.isFinite, beta.isFinite else {
                throw DatasetError.invalidParameter(source: "synthetic", problem: "alpha and beta are standard deviations and must be ≥ 0, got \(alpha), \(beta)")
            }
            var trains: [Dataset] = [], tests: [Dataset] = []
            for k in 0..<spec.clients {
                let device = SyntheticGenerator.device(k, alpha: alpha, beta: beta, seed: seed, testFraction: 0.1)
                trains.append(spec.trainLimit.map { device.train.prefix($0) } ?? device.train)
                tests.append(device.test)
            }
            let shape = [SyntheticGenerator.dimension], c = SyntheticGenerator.classes
            return Loaded(train: .concatenating(trains, sampleShape: shape, classes: c, valueRange: nil),
                          test: .concatenating(tests, sampleShape: shape, classes: c, valueRange: nil),
                          isSynthetic: true)
        case .fashionMNIST(let directory):
            let p = try IDXLoader.fashionMNISTPaths(directory: directory)
            (train, test) = try DatasetCache.loadIDX(trainImages: p[0], trainLabels: p[1], testImages: p[2], testLabels: p[3],
                                                     classes: 10, hint: IDXLoader.fashionMNISTHint,
                                                     directory: DatasetCache.defaultDirectory(), notes: &notes)
        case .idx(let ti, let tl, let vi, let vl):
            (train, test) = try DatasetCache.loadIDX(trainImages: ti, trainLabels: tl, testImages: vi, testLabels: vl,
                                                     classes: nil, hint: IDXLoader.idxHint,
                                                     directory: DatasetCache.defaultDirectory(), notes: &notes)
        case .csv(let trainPath, let testPath, let labelColumn, let ownerColumn):
            train = try CSVLoader.load(path: trainPath, labelColumn: labelColumn, ownerColumn: ownerColumn)
            if let testPath {
                test = try CSVLoader.load(path: testPath, labelColumn: labelColumn, ownerColumn: nil)
                guard test.sampleShape == train.sampleShape else {
                    throw DatasetError.shapeMismatch(path: testPath, problem: "test has \(test.featureCount) feature columns, train has \(train.featureCount); use the same columns")
                }
            } else {
                (train, test) = holdOut(train, seed: spec.partitionSeed, name: trainPath, notes: &notes)
            }
        case .npy(let trainX, let trainY, let testX, let testY):
            train = try NPYLoader.load(x: trainX, y: trainY)
            if let testX, let testY {
                test = try NPYLoader.load(x: testX, y: testY)
                guard test.sampleShape == train.sampleShape else {
                    throw DatasetError.shapeMismatch(path: testX, problem: "test samples have shape \(test.sampleShape), train \(train.sampleShape); use the same shape")
                }
            } else {
                (train, test) = holdOut(train, seed: spec.partitionSeed, name: trainX, notes: &notes)
            }
        case .cifar(let directory, let variant):
            (train, test) = try CIFARLoader.load(directory: directory, variant: variant)
        case .leaf(let directory, let task):
            (train, test) = try LEAFLoader.load(directory: directory, task: task)
        }
        let classes = max(train.classes, test.classes)
        train.classes = classes
        test.classes = classes
        if let range = train.valueRange, test.valueRange != range { test.valueRange = nil; train.valueRange = nil }
        if let limit = spec.trainLimit, limit < train.count {
            notes.append("train_limit: using the first \(limit) of \(train.count) training samples")
            train = train.prefix(limit)
        }
        return Loaded(train: train, test: test, isSynthetic: false)
    }

    /// Splits off a seeded 10% of `data` as the global test set.
    static func holdOut(_ data: Dataset, seed: UInt64, name: String, notes: inout [String]) -> (Dataset, Dataset) {
        var rng = RandomStream(seed: seed, purpose: .localSplit, index: UInt64.max)
        let order = rng.permutation(data.count)
        let testCount = Int((Double(data.count) * heldOutFraction).rounded())
        notes.append("no test file for \(name): held out \(testCount) of \(data.count) samples (seeded) as the global test set")
        return (data.subset(Array(order[testCount...]).sorted()), data.subset(Array(order[..<testCount]).sorted()))
    }
}
