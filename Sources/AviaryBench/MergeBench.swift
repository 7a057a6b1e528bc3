import AviaryMath
import AviaryMerge
import Foundation

/// Merge throughput: effective GB/s = (n + 1) · P · 4 bytes / time (n deltas read, one merged
/// delta written), next to copy and axpy bandwidth probes measured in the same process, so the
/// ratio is meaningful on a noisy shared machine. Each figure is the median of repetitions.
///
/// Memory: n = 100 deltas of 25 M floats would be 10 GB, so at most `maxDistinctBytes` of
/// distinct delta buffers are allocated, and at that size the larger count is capped to the
/// number of distinct buffers (21). Reusing buffers cyclically would not do: the kernels walk
/// all inputs block by block, so a reused buffer's block is still in cache when it comes round
/// again, and the figures would exceed the memory bandwidth.
public enum MergeBench {
    /// The input buffers of one configuration are capped at this many bytes (2 GiB).
    static let maxDistinctBytes = 2 << 30

    /// Runs the benchmark and returns a printable table. `quick` runs only P = 1,663,370 with
    /// fewer repetitions (seconds); the full run takes a few minutes.
    public static func run(quick: Bool) -> String {
        let sizes = quick ? [1_663_370] : [1_663_370, 25_000_000]
        let repetitions = quick ? 3 : 5
        var lines: [String] = []
        lines.append("merge bench (\(quick ? "quick" : "full")): median of \(repetitions) runs; "
            + "GB/s = (n+1)·P·4 B / time; ratio vs. the copy probe")
        let probe = bandwidthProbe(repetitions: repetitions)
        lines.append(String(format: "probe  copy %.1f GB/s   axpy %.1f GB/s   (256 MiB arrays, bytes read + written)",
                            probe.copy, probe.axpy))
        lines.append("P            n    strategy       time ms     GB/s   ×copy  ×fedavg")
        let strategies: [(String, AggregationStrategy)] = [
            ("fedavg", .fedavg), ("mwa", .mwa(MWAConfig(metric: .trainLoss, penalty: 2))),
            ("median", .median), ("trimmed 0.1", .trimmedMean(beta: 0.1)),
        ]
        for p in sizes {
            for n in [10, min(100, maxDistinctBytes / (p * 4))] {
                let updates = makeUpdates(n: n, p: p)
                var fedavgTime = 0.0
                for (label, strategy) in strategies {
                    // The order-statistics kernels are ~10× slower: fewer repetitions at 25 M.
                    let reps = (p > 10_000_000 && (label == "median" || label.hasPrefix("trimmed"))) ? 1 : repetitions
                    let t = medianTime(reps) { _ = try? aggregate(updates, strategy: strategy) }
                    if label == "fedavg" { fedavgTime = t }
                    let gbs = Double(n + 1) * Double(p) * 4 / t / 1e9
                    let name = label.padding(toLength: 12, withPad: " ", startingAt: 0)
                    lines.append(String(format: "%-10d %3d    ", p, n) + name
                        + String(format: " %9.1f %8.1f %7.2f %9.1f", t * 1e3, gbs, gbs / probe.copy, t / fedavgTime))
                }
            }
        }
        lines.append("targets: fedavg, mwa ≥ 0.70 × copy probe; median, trimmed ≤ 10 × fedavg time")
        return lines.joined(separator: "\n")
    }

    /// n updates over P floats, each with its own buffer. Values are hashed from (i, j), so the
    /// clients' order differs from coordinate to coordinate as in real deltas (a shared order
    /// would flatter branchy selection code); cheap to generate at 2 GiB.
    private static func makeUpdates(n: Int, p: Int) -> [ClientUpdate] {
        var rng = RandomStream(seed: 1, purpose: .synthetic)
        return (0..<n).map { i in
            let a = Float(rng.uniform(0.5, 1.5))
            let salt = UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9
            return ClientUpdate(clientIndex: i, samples: 100 + i, metrics: ["train_loss": rng.uniform(0.1, 2), "dataset_size": Double(100 + i)],
                                delta: (0..<p).map { j in
                                    let h = (UInt32(truncatingIfNeeded: j) ^ salt) &* 0x85EB_CA6B
                                    return a * (Float(h >> 16) - 32768) * 3e-8
                                })
        }
    }

    /// Copy and axpy bandwidth over 256 MiB arrays (GB/s, bytes read + written).
    private static func bandwidthProbe(repetitions: Int) -> (copy: Double, axpy: Double) {
        let count = 64 << 20
        let x = [Float](repeating: 1, count: count)
        var y = [Float](repeating: 2, count: count)
        let copy = medianTime(repetitions) {
            x.withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    dst.baseAddress!.update(from: src.baseAddress!, count: count)
                }
            }
        }
        let axpy = medianTime(repetitions) {
            x.withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    BLAS.saxpy(count, alpha: 1e-7, x: src.baseAddress!, y: dst.baseAddress!)
                }
            }
        }
        let bytes = Double(count) * 4
        return (2 * bytes / copy / 1e9, 3 * bytes / axpy / 1e9)
    }

    /// Median wall time in seconds of `repetitions` runs after one warm-up run.
    static func medianTime(_ repetitions: Int, _ body: () -> Void) -> Double {
        body()
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<repetitions {
            let elapsed = clock.measure(body)
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        times.sort()
        return times[times.count / 2]
    }
}
