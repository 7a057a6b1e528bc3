import AviaryMath

/// Label skew as in NIID-Bench (Li et al., 2022): for every class, client proportions
/// p ~ Dir(α·1_N), with clients already above the mean size masked out, redrawn until every
/// client has at least `minSize` samples.
///
/// Termination: at most `maxAttempts` draws. If none meets `minSize` (common for tiny α or many
/// clients), the draw with the largest minimum is repaired constructively: undersized clients
/// take samples of the donor's dominant class from the currently largest client. The repair is
/// recorded in `notes`.
public enum DirichletPartitioner {
    /// Draws tried before falling back to the repair.
    public static let maxAttempts = 100

    public static func partition(labels: [Int32], classes: Int, clients: Int, alpha: Double,
                                 minSize: Int, seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "dirichlet")
        guard alpha > 0, alpha.isFinite else {
            throw PartitionError.invalidParameter(partitioner: "dirichlet", problem: "alpha must be positive and finite, got \(alpha)")
        }
        guard minSize >= 0 else {
            throw PartitionError.invalidParameter(partitioner: "dirichlet", problem: "minSize must be non-negative, got \(minSize)")
        }
        var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
        var byClass = PartitionSupport.indicesByClass(labels, classes: classes)
        for c in 0..<classes { rng.shuffle(&byClass[c]) }
        let usable = byClass.reduce(0) { $0 + $1.count }
        guard minSize * clients <= usable else {
            throw PartitionError.notEnoughSamples(partitioner: "dirichlet", available: usable, needed: minSize * clients, what: "samples (minSize × clients)")
        }

        // Work on counts[client·classes + class]; samples are assigned only once, at the end.
        let alphas = [Double](repeating: alpha, count: clients)
        let cap = Double(usable) / Double(clients)
        var best: (counts: [Int], minimum: Int)?
        var notes: [String] = []
        var accepted = false
        var counts = [Int](repeating: 0, count: clients * classes)
        var sizes = [Int](repeating: 0, count: clients)
        for attempt in 1...maxAttempts {
            for i in counts.indices { counts[i] = 0 }
            for j in sizes.indices { sizes[j] = 0 }
            for c in 0..<classes where !byClass[c].isEmpty {
                var p = rng.dirichlet(alphas)
                var masked = p
                for j in 0..<clients where Double(sizes[j]) >= cap { masked[j] = 0 }
                let s = masked.reduce(0, +)
                if s > 0 { p = masked.map { $0 / s } }
                let n = byClass[c].count
                var cumulative = 0.0, previousCut = 0
                for j in 0..<clients {
                    cumulative += p[j]
                    let cut = j == clients - 1 ? n : min(n, Int(cumulative * Double(n)))
                    let take = max(0, cut - previousCut)
                    counts[j * classes + c] = take
                    sizes[j] += take
                    previousCut += take
                }
            }
            let minimum = sizes.min() ?? 0
            if best == nil || minimum > best!.minimum { best = (counts, minimum) }
            if minimum >= minSize {
                best = (counts, minimum)
                accepted = true
                if attempt > 1 { notes.append("dirichlet(alpha=\(alpha)): draw \(attempt) gave every client ≥ \(minSize) samples") }
                break
            }
        }
        var matrix = (0..<clients).map { j in Array(best!.counts[(j * classes)..<((j + 1) * classes)]) }
        if !accepted {
            let moved = repair(&matrix, minSize: minSize)
            notes.append("dirichlet(alpha=\(alpha), minSize=\(minSize)): no draw in \(maxAttempts) gave every client ≥ \(minSize) samples (best minimum \(best!.minimum)); fallback moved \(moved.samples) samples from the largest clients to \(moved.clients) undersized clients")
        }

        var result = [[Int]](repeating: [], count: clients)
        for c in 0..<classes {
            var start = 0
            for j in 0..<clients where matrix[j][c] > 0 {
                result[j].append(contentsOf: byClass[c][start..<(start + matrix[j][c])])
                start += matrix[j][c]
            }
        }
        return Partition(clientIndices: result, sampleCount: labels.count, notes: notes)
    }

    /// Tops every client up to `minSize` from the largest client's dominant class.
    static func repair(_ counts: inout [[Int]], minSize: Int) -> (samples: Int, clients: Int) {
        var sizes = counts.map { $0.reduce(0, +) }
        var moved = 0, helped = 0
        for j in sizes.indices where sizes[j] < minSize {
            helped += 1
            while sizes[j] < minSize {
                let donor = sizes.indices.max { sizes[$0] < sizes[$1] }!
                let cls = counts[donor].indices.max { counts[donor][$0] < counts[donor][$1] }!
                let take = min(minSize - sizes[j], counts[donor][cls], sizes[donor] - minSize)
                guard take > 0, donor != j else { break }  // unreachable when minSize·N ≤ samples
                counts[donor][cls] -= take; sizes[donor] -= take
                counts[j][cls] += take; sizes[j] += take
                moved += take
            }
        }
        return (moved, helped)
    }
}
