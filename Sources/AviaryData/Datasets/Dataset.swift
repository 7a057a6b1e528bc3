/// Samples in memory: row-major features plus integer labels, with the metadata models and
/// attacks need (shape, class count, valid value range, natural owners).
public struct Dataset: Sendable, Equatable {
    /// `count × featureCount` values, one sample per row.
    public var features: [Float]
    /// One label per sample, in `0..<classes`.
    public var labels: [Int32]
    /// Shape of one sample, e.g. `[60]` or `[1, 28, 28]`.
    public var sampleShape: [Int]
    /// Number of classes the labels index.
    public var classes: Int
    /// Valid input range (images: `0...1`); adversarial perturbations clamp to it. `nil` = unbounded.
    public var valueRange: ClosedRange<Float>?
    /// Natural owner (writer, device) of each sample, when the source has one.
    public var owners: [Int32]?

    /// Builds a dataset; `features.count` must equal `labels.count × product(sampleShape)`.
    public init(features: [Float], labels: [Int32], sampleShape: [Int], classes: Int,
                valueRange: ClosedRange<Float>? = nil, owners: [Int32]? = nil) {
        precondition(features.count == labels.count * sampleShape.reduce(1, *),
                     "features.count \(features.count) != \(labels.count) samples × \(sampleShape)")
        precondition(owners == nil || owners!.count == labels.count, "one owner per sample")
        self.features = features
        self.labels = labels
        self.sampleShape = sampleShape
        self.classes = classes
        self.valueRange = valueRange
        self.owners = owners
    }

    /// Number of samples.
    public var count: Int { labels.count }

    /// Values per sample (product of `sampleShape`).
    public var featureCount: Int { sampleShape.reduce(1, *) }

    /// The samples at `indices`, in that order (duplicates allowed), with the same metadata.
    public func subset(_ indices: [Int]) -> Dataset {
        let width = featureCount
        var newFeatures = [Float](repeating: 0, count: indices.count * width)
        newFeatures.withUnsafeMutableBufferPointer { dst in
            features.withUnsafeBufferPointer { src in
                for (row, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "subset index \(i) outside 0..<\(count)")
                    let from = src.baseAddress! + i * width
                    (dst.baseAddress! + row * width).update(from: from, count: width)
                }
            }
        }
        return Dataset(features: newFeatures, labels: indices.map { labels[$0] },
                       sampleShape: sampleShape, classes: classes, valueRange: valueRange,
                       owners: owners.map { o in indices.map { o[$0] } })
    }

    /// The first `n` samples (all when `n >= count`).
    public func prefix(_ n: Int) -> Dataset {
        n >= count ? self : subset(Array(0..<max(0, n)))
    }

    /// Concatenates datasets with identical shape, classes and range; owners kept only if all have them.
    public static func concatenating(_ parts: [Dataset], sampleShape: [Int], classes: Int,
                                     valueRange: ClosedRange<Float>?) -> Dataset {
        var features: [Float] = []
        var labels: [Int32] = []
        features.reserveCapacity(parts.reduce(0) { $0 + $1.features.count })
        labels.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        let keepOwners = !parts.isEmpty && parts.allSatisfy { $0.owners != nil }
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
        for l in labels where l >= 0 && Int(l) < classes { h[Int(l)] += 1 }
        return h
    }
}
