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
/// Bounded for huge populations: per-client entries are listed for the first
/// `listedClientLimit` clients only; sizes (min/median/max) always cover every client.
public struct PartitionStats: Codable, Sendable, Hashable {
    /// Clients listed individually in `clients` at most (and so in the run log's run_start).
    public static let listedClientLimit = 1000

    public var classes: Int
    /// Samples in the pool that was partitioned.
    public var samples: Int
    public var dropped: Int
    /// Samples per class over the whole pool (synthetic devices on demand: over the listed clients).
    public var globalLabelCounts: [Int]
    /// Number of clients in the partition (`clients` may list fewer).
    public var clientCount: Int
    /// Clients 0..<min(clientCount, listedClientLimit).
    public var clients: [ClientPartitionStats]
    public var minCount: Int
    public var medianCount: Double
    public var maxCount: Int
    /// Means over the clients whose label histograms were computed (all, except for synthetic
    /// devices generated on demand, where it is the listed ones).
    public var meanTotalVariation: Double
    public var meanEntropyBits: Double
    /// The partition's notes (fallbacks etc.).
    public var notes: [String]

    /// Computes the statistics of `partition` over `labels`.
    public init(partition: Partition, labels: [Int32], classes: Int) {
        var global = [Int](repeating: 0, count: classes)
        for l in labels where l >= 0 && Int(l) < classes { global[Int(l)] += 1 }
        let histograms = partition.clientIndices.map { indices in
            var counts = [Int](repeating: 0, count: classes)
            for i in indices where labels[i] >= 0 && Int(labels[i]) < classes { counts[Int(labels[i])] += 1 }
            return counts
        }
        self.init(classes: classes, samples: labels.count, dropped: partition.dropped, globalLabelCounts: global,
                  sizes: partition.sizes, histograms: histograms, notes: partition.notes)
    }

    /// From per-client sizes (all clients) and label histograms of clients `0..<histograms.count`.
    public init(classes: Int, samples: Int, dropped: Int, globalLabelCounts global: [Int], sizes: [Int],
                histograms: [[Int]], notes: [String]) {
        self.classes = classes
        self.samples = samples
        self.dropped = dropped
        self.notes = notes
        globalLabelCounts = global
        clientCount = sizes.count
        let globalTotal = Double(max(1, global.reduce(0, +)))
        let q = global.map { Double($0) / globalTotal }

        let all = histograms.enumerated().map { client, counts in
            let n = counts.reduce(0, +)
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
        clients = Array(all.prefix(Self.listedClientLimit))
        let sorted = sizes.sorted()
        minCount = sorted.first ?? 0
        maxCount = sorted.last ?? 0
        if sorted.isEmpty {
            medianCount = 0
        } else if sorted.count % 2 == 1 {
            medianCount = Double(sorted[sorted.count / 2])
        } else {
            medianCount = Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let k = Double(max(1, all.count))
        meanTotalVariation = all.reduce(0) { $0 + $1.totalVariation } / k
        meanEntropyBits = all.reduce(0) { $0 + $1.entropyBits } / k
    }
}
