import Testing
import AviaryBench

@Suite struct PartitionBenchTests {
    /// Only the report's shape is checked; the timings themselves belong to `aviary bench`.
    @Test func reportListsEveryCase() {
        let report = PartitionBench.run()
        print(report)
        #expect(report.contains("dirichlet") && report.contains("shards"))
        #expect(!report.contains("(failed)"))
        #expect(report.split(separator: "\n").count == 7)
    }
}
