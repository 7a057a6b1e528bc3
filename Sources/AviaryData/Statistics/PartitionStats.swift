import Foundation

/// Label statistics of one client's share of the training pool.
public struct ClientPartitionStats: Codable, Sendable, Hashable {
    public var client: Int
    public var count: Int
    /// Samples per class.
    public var labelCounts: [Int]
    /// Shannon entropy of the client's label distribution, in bits (0 = one class; log2 C = uniform).
    public var entropyBits: Double
    /// Total-variation distance to the global label distribution, in [0, 1] (1 for an empty client).
    public var totalVariation: Double
    /// Earth mover's distance to the global distribution with classes on a line at unit spacing.
    public var earthMovers: Double
}

/// Per-client and summary statistics of a partition; Codable so the server can log it.
public struct PartitionStats: Codable, Sendable, Hashable {
    public var classes: Int
    /// Samples in the pool that was partitioned.
    public var samples: Int
    public var dropped: Int
    /// Samples per class over the whole pool.
    public var globalLabelCounts: [Int]
    public var clients: [ClientPartitionStats]
    public var minCount: Int
    public var medianCount: Double
    public var maxCount: Int
    public var meanTotalVariation: Double
    public var meanEntropyBits: Double
    /// The partition's notes (fallbacks etc.).
    public var notes: [String]

    /// Computes the statistics of `partition` over `labels`.
    public init(partition: Partition, labels: [Int32], classes: Int) {
        self.classes = classes
        samples = labels.count
        dropped = partition.dropped
        notes = partition.notes
        var global = [Int](repeating: 0, count: classes)
        for l in labels where l >= 0 && Int(l) < classes { global[Int(l)] += 1 }
        globalLabelCounts = global
        let globalTotal = Double(max(1, global.reduce(0, +)))
        let q = global.map { Double($0) / globalTotal }

        clients = partition.clientIndices.enumerated().map { client, indices in
            var counts = [Int](repeating: 0, count: classes)
            for i in indices where labels[i] >= 0 && Int(labels[i]) < classes { counts[Int(labels[i])] += 1 }
            let n = indices.count
            guard n > 0 else {
                return ClientPartitionStats(client: client, count: 0, labelCounts: counts, entropyBits: 0,
                                            totalVariation: 1, earthMovers: 0)
            }
            let p = counts.map { Double($0) / Double(n) }
            let entropy = -p.reduce(0) { $1 > 0 ? $0 + $1 * log2($1) : $0 }
            let tv = 0.5 * zip(p, q).reduce(0) { $0 + abs($1.0 - $1.1) }
            var cdfGap = 0.0, emd = 0.0
            for c in 0..<classes { cdfGap += p[c] - q[c]; emd += abs(cdfGap) }
            return ClientPartitionStats(client: client, count: n, labelCounts: counts, entropyBits: max(0, entropy),
                                        totalVariation: tv, earthMovers: emd)
        }
        let sizes = clients.map(\.count).sorted()
        minCount = sizes.first ?? 0
        maxCount = sizes.last ?? 0
        if sizes.isEmpty {
            medianCount = 0
        } else if sizes.count % 2 == 1 {
            medianCount = Double(sizes[sizes.count / 2])
        } else {
            medianCount = Double(sizes[sizes.count / 2 - 1] + sizes[sizes.count / 2]) / 2
        }
        let k = Double(max(1, clients.count))
        meanTotalVariation = clients.reduce(0) { $0 + $1.totalVariation } / k
        meanEntropyBits = clients.reduce(0) { $0 + $1.entropyBits } / k
    }
}
