import AviaryBench
import Foundation
import Testing

/// Speed is not asserted in unit tests; this only runs the benchmark on request and checks
/// that every figure was produced.
@Suite(.serialized) struct TransportBenchTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AVIARY_BENCH"] != nil,
                   "benchmark: set AVIARY_BENCH=1 to run it"))
    func benchmarkProducesEveryFigure() {
        let report = TransportBench.run()
        print(report)
        let lines = report.split(separator: "\n")
        #expect(lines.count == 10)  // 9, plus tcp with CURVE
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix("GB/s") || $0.contains("GB/s (") }, "\(report)")
    }
}
