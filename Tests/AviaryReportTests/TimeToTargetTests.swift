import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// docs/RESULTS.md's time-to-target table: the simulated time each run first reaches the
/// baseline's accuracy, from generated logs, and the server's share of wall time.
@Suite struct TimeToTargetTests {
    /// A run evaluated at rounds 2 and 4 (0.7, 0.9; `ReportTests.log`) whose rounds take
    /// `seconds` simulated seconds and `server` seconds of server time each.
    static func outcome(seconds: Double, server: Double = 0.1) -> RunOutcome {
        let base = SimulatedTimeComparisonTests.log(name: "r", seconds: seconds)
        let log = AggregationLog(records: base.records.map { record in
            guard case .round(var r) = record else { return record }
            r.serverSeconds = server
            return .round(r)
        })
        return RunOutcome(log: log, lastK: 10)
    }

    @Test func firstReachingIsTheFirstEvaluationAtOrAboveTheTarget() throws {
        let curve = try #require(Self.outcome(seconds: 30).simulatedCurve)
        #expect(curve.points == [PlotPoint(x: 60, y: 0.7), PlotPoint(x: 120, y: 0.9)])
        #expect(curve.firstReaching(0.7) == 60 && curve.firstReaching(0.75) == 120 && curve.firstReaching(0.95) == nil)
        #expect(SimulatedCurve(log: ReportTests.log()) == nil, "no clock, no curve")
        // 4 rounds × 0.1 s of server time over run_end's 12.34 s.
        #expect(abs(try #require(Self.outcome(seconds: 30).serverShare) - 0.4 / 12.34) < 1e-12)
        let t = TimeToTarget(curves: [curve, SimulatedCurve(points: [PlotPoint(x: 10, y: 0.5)])], target: 0.8)
        #expect(t.reached == 1 && t.runs == 2 && t.seconds?.mean == 120)
    }

    @Test func theTableSaysHowSoonEachRowReachesTheBaselinesAccuracy() throws {
        // Baseline: final accuracy 0.8 (set), reached at round 4 (0.9): 120 s and 240 s.
        func group(_ label: String, _ outcomes: [RunOutcome]) -> ResultsDocument.Group {
            .init(label: label, summary: SeedGroupSummary(label: label, outcomes: outcomes), skew: nil)
        }
        let baseline = [Self.outcome(seconds: 30), Self.outcome(seconds: 60)].map { o -> RunOutcome in
            var o = o
            o.finalClean = 0.8
            return o
        }
        let sync = group("sync", baseline)
        let fast = group("fast", [Self.outcome(seconds: 15), Self.outcome(seconds: 15, server: 0.2)])
        var never = Self.outcome(seconds: 10)
        never.simulatedCurve = SimulatedCurve(points: [PlotPoint(x: 20, y: 0.7)])
        var study = ResultsDocument.Study(title: "async", sources: ["runs/a"], fixed: [],
                                          groups: [sync, fast, group("slow", [never])], baseline: "sync", robustAttack: nil)
        let plain = ResultsDocument(studies: [study], lastK: 10, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(!plain.contains("Simulated time to the baseline's accuracy"), "only when the plan asks")
        study.timeToTarget = true
        let md = ResultsDocument(studies: [study], lastK: 10, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(md.contains("first evaluation at or above 0.800 (**sync**'s final clean accuracy, mean over its seeds)"))
        #expect(md.contains("| **sync** (baseline) | 2/2 | 3.0 ± 1.4 min | 1.00 | 3.2 % ± 0.0 |"), "\(md)")
        // 60 s both: 1 min, a third of the baseline's 3 min; server share 0.4/12.34 and 0.8/12.34.
        #expect(md.contains("| fast | 2/2 | 1.0 ± 0.0 min | 0.33 | 4.9 % ± 2.3 |"), "\(md)")
        #expect(md.contains("| slow | 0/1 | not reached | - | 3.2 % ± 0.0 |"), "\(md)")
    }
}
