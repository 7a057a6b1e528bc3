import Foundation
import Testing
import AviaryLog
import AviaryReport

/// The dashboard's charts are the report's and the comparison's: titles, seed bands, axis errors.
@Suite struct ChartsTests {
    static func log(_ name: String, accuracies: [Double], bytes: Int = 100) -> AggregationLog {
        let rounds = accuracies.enumerated().map { i, a -> LogRecord in
            guard case var .round(r) = Fixtures.round(i + 1, accuracy: a) else { fatalError() }
            r.bytesSent = bytes; r.bytesReceived = bytes * 2
            return .round(r)
        }
        return AggregationLog(records: [Fixtures.runStart(name)] + rounds)
    }

    @Test func oneRunGetsTheReportsChartsAndBytes() {
        let titles = DashboardCharts.run(Self.log("a", accuracies: [0.1, 0.2]), source: "a").map(\.title)
        #expect(titles.first == "Accuracy per round")
        #expect(titles.contains("Server bytes per round") && titles.contains("Participation per round"))
        #expect(titles.contains { $0.hasPrefix("Merge weights") })
    }

    @Test func seedsOfOneSettingAreDrawnAsMeanAndBand() throws {
        let runs = [Self.log("s1", accuracies: [0.1, 0.3]), Self.log("s2", accuracies: [0.3, 0.5]), Self.log("other", accuracies: [0.9, 0.9])]
            .enumerated().map { RunComparison.Run(path: "r\($0)", log: $1) }
        let groups = [RunComparison.SeedGroup(label: "lr=0.1", members: [0, 1]), RunComparison.SeedGroup(label: "lr=1", members: [2])]
        let charts = try DashboardCharts.runs(runs, groups: groups, axis: .round)
        #expect(charts[0].title == "clean_accuracy per round, mean ± std across seeds")
        #expect(charts[0].svg.contains("<polygon"), "a ±1 std band for the two seeds")
        #expect(charts[0].svg.contains("lr=0.1 (n=2)"))
        #expect(charts.map(\.title).contains("Server bytes per round (sent + received), mean ± std across seeds"))
        #expect(throws: ComparisonError.noSimulatedClock(run: "r0")) { try DashboardCharts.runs(runs, groups: groups, axis: .simulated) }
    }
}
