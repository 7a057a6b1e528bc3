import AviaryMath

/// Samples as a view: rows of a shared read-only `SampleStorage` (Float32, or UInt8 images from
/// a memory-mapped cache) selected by an index list, with the metadata models and attacks need
/// (shape, class count, valid value range, natural owners). `subset` composes index lists and
/// never copies samples, so a client's partition costs its index list.
public struct Dataset: Sendable, Equatable {
    /// The shared rows and this dataset's index list into them.
    public var samples: SampleView
    /// Shape of one sample, e.g. `[60]` or `[1, 28, 28]`.
    public var sampleShape: [Int]
    /// Number of classes the labels index.
    public var classes: Int
    /// Valid input range (images: `0...1`); adversarial perturbations clamp to it. `nil` = unbounded.
    public var valueRange: ClosedRange<Float>?

    /// Builds a dataset over fresh Float32 storage; `features.count` must equal `labels.count × product(sampleShape)`.
    public init(features: [Float], labels: [Int32], sampleShape: [Int], classes: Int,
                valueRange: ClosedRange<Float>? = nil, owners: [Int32]? = nil) {
        precondition(features.count == labels.count * sampleShape.reduce(1, *),
                     "features.count \(features.count) != \(labels.count) samples × \(sampleShape)")
        precondition(owners == nil || owners!.count == labels.count, "one owner per sample")
        self.init(samples: SampleView(storage: SampleStorage(features: features, labels: labels,
                                                             width: sampleShape.reduce(1, *), owners: owners)),
                  sampleShape: sampleShape, classes: classes, valueRange: valueRange)
    }

    /// A dataset over existing rows (e.g. a mapped cache).
    public init(samples: SampleView, sampleShape: [Int], classes: Int, valueRange: ClosedRange<Float>? = nil) {
        precondition(samples.width == sampleShape.reduce(1, *), "rows of \(samples.width) values for samples of shape \(sampleShape)")
        self.samples = samples
        self.sampleShape = sampleShape
        self.classes = classes
        self.valueRange = valueRange
    }

    /// Number of samples.
    public var count: Int { samples.count }

    /// Values per sample (product of `sampleShape`).
    public var featureCount: Int { sampleShape.reduce(1, *) }

    /// `count × featureCount` Float32 values, one sample per row: a fresh copy on every call
    /// (training and evaluation gather batches from `samples` instead).
    public var features: [Float] { samples.materialisedFeatures() }

    /// One label per sample, in `0..<classes` (a fresh array on every call).
    public var labels: [Int32] { samples.materialisedLabels() }

    /// Natural owner (writer, device) of each sample, when the source has one.
    public var owners: [Int32]? {
        guard let all = samples.storage.owners else { return nil }
        return (0..<count).map { all[samples.row($0)] }
    }

    /// The samples at `indices`, in that order (duplicates allowed), with the same metadata: a view, no copy.
    public func subset(_ indices: [Int]) -> Dataset {
        var out = self
        out.samples = samples.selecting(indices)
        return out
    }

    /// The first `n` samples (all when `n >= count`).
    public func prefix(_ n: Int) -> Dataset {
        n >= count ? self : subset(Array(0..<max(0, n)))
    }

    /// Concatenates datasets with identical shape, classes and range into fresh Float32 storage;
    /// owners kept only if all have them.
    public static func concatenating(_ parts: [Dataset], sampleShape: [Int], classes: Int,
                                     valueRange: ClosedRange<Float>?) -> Dataset {
        var features: [Float] = []
        var labels: [Int32] = []
        features.reserveCapacity(parts.reduce(0) { $0 + $1.count * $1.featureCount })
        labels.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        let keepOwners = !parts.isEmpty && parts.allSatisfy { $0.samples.storage.owners != nil }
        var owners: [Int32] = []
        for part in parts {
            precondition(part.sampleShape == sampleShape, "cannot concatenate shapes \(part.sampleShape) and \(sampleShape)")
            features.append(contentsOf: part.features)
            labels.append(contentsOf: part.labels)
            if keepOwners { owners.append(contentsOf: part.owners!) }
        }
        return Dataset(features: features, labels: labels, sampleShape: sampleShape, classes: classes,
                       valueRange: valueRange, owners: keepOwners ? owners : nil)
    }

    /// Samples per class, length `classes`.
    public func labelHistogram() -> [Int] {
        var h = [Int](repeating: 0, count: classes)
        for i in 0..<count {
            let l = samples.label(i)
            if l >= 0 && Int(l) < classes { h[Int(l)] += 1 }
        }
        return h
    }

    /// Same samples (values, labels, owners) and metadata; storage identity does not matter.
    public static func == (a: Dataset, b: Dataset) -> Bool {
        a.sampleShape == b.sampleShape && a.classes == b.classes && a.valueRange == b.valueRange
            && a.count == b.count && a.labels == b.labels && a.owners == b.owners && a.features == b.features
    }
}
