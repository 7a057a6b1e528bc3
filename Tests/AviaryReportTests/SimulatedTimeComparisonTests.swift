import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// `aviary compare --x-axis simulated`: series against the simulated clock, for single runs and
/// seed groups (interpolated onto common times), built from hand-made logs.
@Suite struct SimulatedTimeComparisonTests {
    /// `ReportTests.log` (evaluations on rounds 2 and 4) with a simulated clock: every round takes `seconds`.
    static func log(name: String, seconds: Double) -> AggregationLog {
        let base = ReportTests.log(name: name)
        return AggregationLog(records: base.records.map { record in
            guard case .round(var r) = record else { return record }
            r.system = SystemRoundRecord(roundSeconds: seconds, clockSeconds: seconds * Double(r.round), offline: [], stragglers: [])
            return .round(r)
        })
    }

    @Test func singleRunsArePlottedAgainstTheClockInMinutes() throws {
        let cmp = try RunComparison(runs: [.init(path: "r/a", log: Self.log(name: "a", seconds: 30)),
                                           .init(path: "r/b", log: Self.log(name: "b", seconds: 90))],
                                    metric: .cleanAccuracy, axis: .simulated)
        let plot = cmp.plot()
        // Round 2 and 4 close at 60 s and 120 s (a), 180 s and 360 s (b).
        #expect(plot.series[0].points == [PlotPoint(x: 1, y: 0.7), PlotPoint(x: 2, y: 0.9)])
        #expect(plot.series[1].points == [PlotPoint(x: 3, y: 0.7), PlotPoint(x: 6, y: 0.9)])
        #expect(plot.xLabel == "simulated minutes" && !plot.integerX)
        #expect(plot.title == "clean_accuracy against simulated time")
        // Against rounds, as before.
        let rounds = try RunComparison(runs: cmp.runs, metric: .cleanAccuracy, axis: .round).plot()
        #expect(rounds.series[1].points == [PlotPoint(x: 2, y: 0.7), PlotPoint(x: 4, y: 0.9)])
        #expect(rounds.xLabel == "round" && rounds.integerX && rounds.title == "clean_accuracy per round")
    }

    @Test func longClocksAreInHours() throws {
        let cmp = try RunComparison(runs: [.init(path: "r/a", log: Self.log(name: "a", seconds: 9000))],
                                    metric: .cleanAccuracy, axis: .simulated)
        let plot = cmp.plot()
        #expect(plot.xLabel == "simulated hours")
        #expect(plot.series[0].points.map(\.x) == [5, 10])
        #expect(SimulatedTimeUnit(covering: 35_999) == SimulatedTimeUnit(covering: 0))
    }

    @Test func aRunWithoutAClockIsNamed() {
        let runs: [RunComparison.Run] = [.init(path: "r/timed", log: Self.log(name: "t", seconds: 30)),
                                         .init(path: "r/plain", log: ReportTests.log(name: "p"))]
        #expect(throws: ComparisonError.noSimulatedClock(run: "r/plain")) {
            try RunComparison(runs: runs, metric: .cleanAccuracy, axis: .simulated)
        }
        #expect("\(ComparisonError.noSimulatedClock(run: "r/plain"))".hasPrefix("r/plain has no simulated clock"))
        #expect((try? RunComparison(runs: runs, metric: .cleanAccuracy, axis: .round)) != nil)
    }

    @Test func bandsInterpolateEachSeedWithinItsOwnRange() throws {
        // Seed A evaluates at t = 1, 3; seed B at t = 2, 4.
        let bands = TimeBand.bands([[PlotPoint(x: 1, y: 0.5), PlotPoint(x: 3, y: 0.9)],
                                    [PlotPoint(x: 2, y: 0.6), PlotPoint(x: 4, y: 1.0)]])
        #expect(bands.map(\.time) == [1, 2, 3, 4])
        #expect(bands.map(\.stats.count) == [1, 2, 2, 1], "a seed counts only between its first and last evaluation")
        #expect(bands[0].stats.mean == 0.5 && bands[0].stats.std == nil)
        #expect(abs(bands[1].stats.mean - 0.65) < 1e-12)   // A at 2: 0.7 (interpolated), B: 0.6
        #expect(abs(bands[2].stats.mean - 0.85) < 1e-12)   // A: 0.9, B at 3: 0.8 (interpolated)
        #expect(abs(try #require(bands[1].stats.std) - (0.005).squareRoot()) < 1e-12)
        #expect(bands[3].stats.mean == 1.0 && bands[3].stats.std == nil)
        // A diverged point is left out of its seed's curve; points out of order are sorted.
        let gaps = TimeBand.bands([[PlotPoint(x: 3, y: 0.9), PlotPoint(x: 2, y: .nan), PlotPoint(x: 1, y: 0.5)]])
        #expect(gaps.map(\.time) == [1, 3] && gaps.map(\.stats.mean) == [0.5, 0.9])
        #expect(TimeBand.bands([[], []]).isEmpty)
    }

    @Test func groupedRunsShareOneTimeGrid() throws {
        // Two seeds of one setting, on clocks at different speeds: rounds 2 and 4 close at
        // 1 and 2 minutes (a1), 2 and 4 minutes (a2).
        let runs: [RunComparison.Run] = [.init(path: "s/a1", log: Self.log(name: "a1", seconds: 30)),
                                         .init(path: "s/a2", log: Self.log(name: "a2", seconds: 60))]
        let cmp = try RunComparison(runs: runs, metric: .cleanAccuracy, axis: .simulated,
                                    groups: [.init(label: "p=1", members: [0, 1])], lastK: 2)
        let plot = cmp.plot()
        #expect(plot.title == "clean_accuracy against simulated time, mean ± std across seeds" && plot.xLabel == "simulated minutes")
        let line = try #require(plot.series.first)
        // At 2 minutes: a1's 0.9 and a2's 0.7; a1 ends there, a2 starts there.
        #expect(line.points.map(\.x) == [1, 2, 4])
        #expect(line.points.map(\.y).enumerated().allSatisfy { abs($1 - [0.7, 0.8, 0.9][$0]) < 1e-12 })
        #expect(line.band.count == 1 && line.band[0].x == 2)
        #expect(cmp.html().contains("interpolated linearly"))
    }
}
