import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// Accuracy against simulated time for buffered runs, in `aviary report` and `aviary compare`,
/// from generated logs: a buffered log's clock is the server updates' times (uneven), a sync
/// log's the rounds' closes.
@Suite struct BufferedTimeTests {
    /// `ReportTests.log` (evaluations on rounds 2 and 4) as a buffered run: server update r at
    /// `times[r - 1]` simulated seconds, its buffer of clients 0 and 1 with staleness r − 1 and 0.
    static func bufferedLog(name: String, times: [Double] = [10, 25, 27, 60]) -> AggregationLog {
        let base = ReportTests.log(name: name)
        return AggregationLog(records: base.records.map { record in
            guard case .round(var r) = record else { return record }
            let t: Double = times[r.round - 1]
            let discount: Double = 1 / Double(r.round).squareRoot()
            let previous: Double = r.round > 1 ? times[r.round - 2] : 0
            var system = SystemRoundRecord(roundSeconds: t - previous, clockSeconds: t, offline: [], stragglers: [])
            system.buffered = BufferedUpdateRecord(version: r.round, clockSeconds: t, updates: [
                BufferedUpdateEntry(client: 0, startVersion: 0, arrival: t - 1, staleness: r.round - 1, discount: discount, weight: 0.5),
                BufferedUpdateEntry(client: 1, startVersion: r.round - 1, arrival: t, staleness: 0, discount: 1, weight: 0.5),
            ], discarded: r.round == 3 ? [BufferedUpdateEntry(client: 4, startVersion: 0, arrival: 26, staleness: 2, discount: 0.58)] : nil)
            r.system = system
            return .round(r)
        })
    }

    @Test func theReportPlotsABufferedRunAgainstItsUpdatesTimes() throws {
        let report = RunReport(log: Self.bufferedLog(name: "b"), source: "runs/b")
        let accuracy = report.accuracyBySimulatedTimePlot()
        // Rounds 2 and 4 are evaluated: their updates happened at 25 s and 60 s.
        let first: Double = 25.0 / 60
        #expect(accuracy.series[0].points == [PlotPoint(x: first, y: 0.7), PlotPoint(x: 1, y: 0.9)])
        #expect(accuracy.xLabel == "simulated minutes")
        #expect(report.updateIntervalPlot().series[0].points.map(\.y) == [10, 15, 2, 33])
        let staleness = report.stalenessPlot()
        #expect(staleness.series[0].points.map(\.y) == [0, 0.5, 1, 1.5])
        #expect(staleness.series[1].points.map(\.y) == [0, 1, 2, 3])
        let html = report.html()
        #expect(html.contains("Accuracy against simulated time") && html.contains("Staleness per server update"))
        #expect(!html.contains("Stragglers and offline clients"), "a buffered run has no rounds to straggle in")
        #expect(html.contains("simulated clock after server update 4: 60 s; 4 server updates merged 8 client updates, mean staleness 0.75 versions; 1 discarded as over-stale"))
    }

    @Test func aSyncRunKeepsItsStragglerTimeline() {
        let html = RunReport(log: SimulatedTimeComparisonTests.log(name: "s", seconds: 30), source: "runs/s").html()
        #expect(html.contains("Stragglers and offline clients") && !html.contains("Staleness per server update"))
    }

    @Test func compareOverlaysSyncAndBufferedRunsOnTheSimulatedClock() throws {
        let runs: [RunComparison.Run] = [.init(path: "r/sync", log: SimulatedTimeComparisonTests.log(name: "sync", seconds: 30)),
                                         .init(path: "r/buffered", log: Self.bufferedLog(name: "buffered"))]
        let plot = try RunComparison(runs: runs, metric: .cleanAccuracy, axis: .simulated).plot()
        #expect(plot.series[0].points == [PlotPoint(x: 1, y: 0.7), PlotPoint(x: 2, y: 0.9)])
        let first: Double = 25.0 / 60
        #expect(plot.series[1].points == [PlotPoint(x: first, y: 0.7), PlotPoint(x: 1, y: 0.9)])
        // Two seeds of a buffered setting on different clocks share one interpolated line.
        let seeds: [RunComparison.Run] = [.init(path: "s/b1", log: Self.bufferedLog(name: "b1")),
                                          .init(path: "s/b2", log: Self.bufferedLog(name: "b2", times: [20, 50, 54, 120]))]
        let grouped = try RunComparison(runs: seeds, metric: .cleanAccuracy, axis: .simulated,
                                        groups: [.init(label: "K=2", members: [0, 1])], lastK: 2).plot()
        let line = try #require(grouped.series.first)
        let times: [Double] = line.points.map(\.x)
        let expected: [Double] = [25.0 / 60, 50.0 / 60, 1, 2]
        #expect(times.count == 4)
        for (t, e) in zip(times, expected) { #expect(abs(t - e) < 1e-12) }
        // At 1 minute b1 reads 0.9 and b2 (0.7 at 50 s, 0.9 at 120 s) 0.7 + 0.2 · 10/70.
        let b2: Double = 0.7 + 0.2 * 10 / 70
        #expect(abs(line.points[2].y - (0.9 + b2) / 2) < 1e-12)
    }
}
