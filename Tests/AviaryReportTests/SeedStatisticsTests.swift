import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// Means ± std across seeds, last-K averages, and the grouped comparison built on them.
@Suite struct SeedStatisticsTests {
    @Test func meanAndSampleStandardDeviation() throws {
        let s = try #require(MeanStd([0.6, 0.7, 0.8]))
        #expect(abs(s.mean - 0.7) < 1e-12)
        #expect(abs(try #require(s.std) - 0.1) < 1e-12)   // sample std (n − 1)
        #expect(s.text() == "0.700 ± 0.100")
        #expect(MeanStd([0.5])?.std == nil && MeanStd([0.5])?.text() == "0.500 (n=1)")
        #expect(MeanStd([]) == nil)
        #expect(MeanStd([.nan, 1])?.count == 1)   // a diverged run's NaN does not poison the mean
    }

    @Test func lastKAveragesTheLastEvaluatedRounds() {
        // Evaluations on rounds 2 (0.7) and 4 (0.9); robust only on 4.
        let o = RunOutcome(log: ReportTests.log(name: "a"), lastK: 2)
        #expect(o.finalClean == 0.9 && abs((o.lastKClean ?? 0) - 0.8) < 1e-12)
        #expect(o.finalRobust == 0.33 && o.lastKRobust == 0.33 && o.completed)
        let one = RunOutcome(log: ReportTests.log(name: "a"), lastK: 1)
        #expect(one.lastKClean == 0.9)
        #expect(!RunOutcome(log: ReportTests.log(name: "b", rounds: 2, end: false), lastK: 10).completed)
    }

    @Test func bandsAverageRunsRoundByRound() {
        let bands = RoundBand.bands([[PlotPoint(x: 1, y: 0.5), PlotPoint(x: 2, y: 0.7)],
                                     [PlotPoint(x: 1, y: 0.7), PlotPoint(x: 2, y: .nan)]])
        #expect(bands.map(\.round) == [1, 2])
        #expect(abs(bands[0].stats.mean - 0.6) < 1e-12 && bands[0].stats.std != nil)
        #expect(bands[1].stats.mean == 0.7 && bands[1].stats.std == nil)
    }

    @Test func groupedComparisonShowsMeansAndShadedBands() {
        let runs: [RunComparison.Run] = [
            .init(path: "s/a1", log: ReportTests.log(name: "a1")), .init(path: "s/a2", log: ReportTests.log(name: "a2")),
            .init(path: "s/b1", log: ReportTests.log(name: "b1", rounds: 2, end: false)),
        ]
        let cmp = RunComparison(runs: runs, metric: .cleanAccuracy,
                                groups: [.init(label: "p=1", members: [0, 1]), .init(label: "p=2", members: [2])], lastK: 2)
        #expect(cmp.isGrouped)
        let table = cmp.textTable()
        #expect(table.contains("clean_acc last 2"))
        #expect(table.contains("p=1") && table.contains("0.900 ± 0.000") && table.contains("2/2"))
        #expect(table.contains("0.700 (n=1)") && table.contains("0/1"))
        let plot = cmp.plot()
        #expect(plot.series.map(\.name) == ["p=1 (n=2)", "p=2 (n=1)"])
        #expect(plot.series[0].band.count == 2 && plot.series[1].band.isEmpty)
        #expect(plot.svg().contains("<polygon"))
        #expect(cmp.html().contains("Mean ± std across seeds"))
        // One run per group: the ungrouped table, unchanged.
        #expect(!RunComparison(runs: runs, metric: .cleanAccuracy).isGrouped)
    }
}
