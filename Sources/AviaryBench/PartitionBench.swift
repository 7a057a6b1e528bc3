import AviaryMath
import AviaryData

/// Partitioning speed: 60,000 labels (6,000 per class, shuffled) over 1,000 clients, median of
/// repeated runs. Run by `aviary bench`; unit tests assert no timings.
public enum PartitionBench {
    /// Repetitions per case; the median is reported.
    public static let repetitions = 7

    public static func run() -> String {
        var labels = (0..<60_000).map { Int32($0 % 10) }
        var rng = RandomStream(seed: 1, purpose: .other, index: 0)
        rng.shuffle(&labels)
        let cases: [(String, PartitionSpec)] = [
            ("dirichlet α=0.5 minSize=10", .dirichlet(alpha: 0.5, minSize: 10)),
            ("dirichlet α=0.5 minSize=0", .dirichlet(alpha: 0.5, minSize: 0)),
            ("dirichlet α=0.01 minSize=10", .dirichlet(alpha: 0.01, minSize: 10)),
            ("shards 2 per client (2,000 shards)", .shards(perClient: 2, shardsTotal: nil)),
            ("iid", .iid(sizes: nil)),
            ("classes-per-client 2", .classesPerClient(2)),
        ]
        var lines = ["partition 60,000 samples over 1,000 clients (median of \(repetitions)):"]
        for (name, spec) in cases {
            var times: [Double] = []
            var note = ""
            for r in 0..<repetitions {
                let start = ContinuousClock.now
                let p = try? spec.partition(labels: labels, owners: nil, classes: 10, clients: 1000, seed: UInt64(r))
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
                if p == nil { note = " (failed)" }
                if p?.notes.contains(where: { $0.contains("fallback") }) == true { note = " (fallback taken)" }
            }
            times.sort()
            let median = times[times.count / 2]
            let padded = name + String(repeating: " ", count: max(0, 56 - name.count))
            lines.append("  \(padded) \(format(median)) ms\(note)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func format(_ ms: Double) -> String {
        let tenths = Int((ms * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
