import Foundation
import AviaryLog

/// `aviary compare` over runs that differ only by seed: one line per group (the mean over its
/// runs) with a ±1 std band, and a table of means ± std.
extension RunComparison {
    static func groupColumns(lastK: Int) -> [String] {
        ["group", "seeds", "clean_acc", "clean_acc last \(lastK)", "robust_acc", "robust_acc last \(lastK)", "completed"]
    }

    public var groupSummaries: [SeedGroupSummary] {
        groups.map { g in
            SeedGroupSummary(label: g.label, outcomes: g.members.map { RunOutcome(log: runs[$0].log, lastK: lastK) })
        }
    }

    func groupRows() -> [[String]] {
        groupSummaries.map { s in
            [s.label, String(s.seeds), s.finalClean?.text() ?? "-", s.lastKClean?.text() ?? "-",
             s.finalRobust?.text() ?? "-", s.lastKRobust?.text() ?? "-", "\(s.seeds - s.incomplete)/\(s.seeds)"]
        }
    }

    func groupedPlot() -> LinePlot {
        let series = groups.enumerated().map { i, g -> LinePlot.Series in
            let members = g.members.map { points(runs[$0]) }
            // Against simulated time the seeds' rounds close at different times: interpolated (TimeBand).
            let bands = axis == .simulated ? TimeBand.bands(members).map { (x: $0.time, stats: $0.stats) }
                                           : RoundBand.bands(members).map { (x: Double($0.round), stats: $0.stats) }
            var line = LinePlot.Series(
                name: bands.isEmpty ? "\(g.label) (no \(metric.rawValue))" : "\(g.label) (n=\(g.members.count))",
                color: PlotPalette.runColor(metric.plotMetric, run: i),
                points: bands.map { PlotPoint(x: $0.x, y: $0.stats.mean) },
                dash: PlotPalette.runDash(run: i))
            line.band = bands.compactMap { b in b.stats.std.map { (x: b.x, low: b.stats.mean - $0, high: b.stats.mean + $0) } }
            return line
        }
        return LinePlot(title: "\(plotTitle), mean ± std across seeds", xLabel: xLabel,
                        yLabel: metric.rawValue, series: series, width: 760, height: 380, integerX: axis == .round)
    }
}
