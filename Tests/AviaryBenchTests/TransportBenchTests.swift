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
        // 9 figures, plus tcp with CURVE where libzmq has it.
        #expect(lines.count == (report.contains("CURVE") ? 10 : 9))
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix("GB/s") || $0.contains("GB/s (") }, "\(report)")
    }
}
