import Testing
import AviaryBench

@Suite struct DashboardBenchTests {
    /// A small sweep: every run written is listed (the bench throws otherwise) and the report
    /// has its three lines; the timings themselves belong to `aviary bench dashboard`.
    @Test func aSmallSweepIsListedWhole() throws {
        let m = try DashboardBench.measure(runs: 20, rounds: 6)
        #expect(m.runs == 20 && m.bytes > 20 * 10_000)
        #expect(m.firstListing > 0 && m.firstListingCPU > 0 && m.nextListing > 0 && m.listingAfterAppend > 0)
        let report = try DashboardBench.run(runs: 20, rounds: 6)
        #expect(report.contains("dashboard run list: 20 runs of 6 rounds") && report.contains("target < 1000 ms"), "\(report)")
        #expect(report.split(separator: "\n").count == 5, "\(report)")
    }
}
