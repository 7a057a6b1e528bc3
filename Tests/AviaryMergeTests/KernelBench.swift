import Testing
@testable import AviaryMerge
import AviaryMath
#if canImport(Glibc)
import Glibc
#endif

private let benchEnabled = getenv("AVIARY_BENCH").map { String(cString: $0) == "1" } ?? false

/// Kernel speed, old against new in one process: run with `AVIARY_BENCH=1 swift test -c release
/// --filter KernelBench` (`AVIARY_BENCH_N=100` for one client count, e.g. under `perf record`).
/// Never part of a normal test run (speed is not asserted in tests); the
/// end-to-end figures are `aviary bench merge`.
@Suite(.enabled(if: benchEnabled, "speed benchmark: set AVIARY_BENCH=1 to run it"))
struct KernelBench {
    @Test func trimKernelAgainstTheScalarReference() {
        let p = 1_663_370
        var lines = ["kernel bench: P = \(p), median of 3 runs, ms (ratio = reference / new)"]
        for n in (getenv("AVIARY_BENCH_N").map { [Int(String(cString: $0))!] } ?? [10, 100]) {
            var rng = RandomStream(seed: 3, purpose: .synthetic)
            let columns = (0..<n).map { _ in (0..<p).map { _ in Float(rng.normal()) } }
            let scales = [Float](repeating: 1, count: n)
            var out = [Float](repeating: 0, count: p)
            var hits: [Int] = []
            FloatPointers.with(columns) { inputs in
                out.withUnsafeMutableBufferPointer { o in
                    let weights = [Float](repeating: 1 / Float(n), count: n)
                    let mean = Self.medianTime {
                        WeightedSumKernel.run(inputs: inputs, weights: weights, count: p, into: o.baseAddress!)
                    }
                    lines.append(String(format: "n = %3d  weighted sum %8.1f", n, mean * 1e3))
                    for (label, trim) in [("median", (n - 1) / 2), ("trimmed 0.1", n / 10)] {
                        let old = Self.medianTime {
                            ReferenceTrimKernel.run(inputs: inputs, scales: scales, count: p, trim: trim,
                                                    into: o.baseAddress!, hits: &hits)
                        }
                        let one = Self.medianTime {
                            CoordinateTrimKernel.run(inputs: inputs, scales: scales, count: p, trim: trim,
                                                     into: o.baseAddress!, hits: &hits, threads: 1)
                        }
                        let all = Self.medianTime {
                            CoordinateTrimKernel.run(inputs: inputs, scales: scales, count: p, trim: trim,
                                                     into: o.baseAddress!, hits: &hits)
                        }
                        lines.append(String(format: "n = %3d  %-12@ reference %7.1f  new 1 thread %7.1f (×%.1f faster, %.1f × sum)  "
                                            + "%d threads %7.1f (%.1f × sum)",
                                            n, label, old * 1e3, one * 1e3, old / one, one / mean,
                                            CoordinateTrimKernel.availableCores, all * 1e3, all / mean))
                    }
                }
            }
            #expect(hits.count == n)
        }
        print(lines.joined(separator: "\n"))
    }

    private static func medianTime(_ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<3 {
            var a = timespec(), b = timespec()
            clock_gettime(CLOCK_MONOTONIC, &a)
            body()
            clock_gettime(CLOCK_MONOTONIC, &b)
            times.append(Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) * 1e-9)
        }
        return times.sorted()[1]
    }
}
