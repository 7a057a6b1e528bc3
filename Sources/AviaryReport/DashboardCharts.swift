import Foundation
import AviaryLog

/// One chart of a live page: a title the page can name it by, and its standalone SVG.
public struct Chart: Sendable, Equatable {
    public var title: String
    public var svg: String
    public init(title: String, svg: String) { self.title = title; self.svg = svg }
}

/// The charts `aviary dashboard` shows, drawn by the same plots as the report and the
/// comparison (colours, seed bands and statistics included), so the live view and the files
/// never disagree. One run gets the report's charts plus bytes per round; several runs get
/// `aviary compare`'s overlays of each metric plus participation, bytes and merge-weight spread.
public enum DashboardCharts {
    /// The report's charts of one run, its simulated-time charts when it has a simulated clock.
    public static func run(_ log: AggregationLog, source: String) -> [Chart] {
        let report = RunReport(log: log, source: source)
        var charts = [chart(report.accuracyPlot()), chart(report.lossPlot()), chart(report.participationPlot()),
                      chart(bytesPlot([(label: "", log: log)], groups: nil)), chart(report.updateNormPlot())]
        if !report.simulatedRounds.isEmpty {
            charts += [chart(report.accuracyBySimulatedTimePlot()), chart(report.stragglerPlot())]
        }
        if let heatmap = report.weightsHeatmap() {
            charts.append(Chart(title: heatmap.title, svg: heatmap.svg()))
        } else {
            charts.append(chart(LinePlot(title: "Merge weights (no round merged any update)", xLabel: "round", yLabel: "weight", series: [])))
        }
        return charts
    }

    /// Several runs overlaid; runs that differ only by seed (`groups`, as `aviary compare` forms
    /// them) drawn as mean ± std. Against simulated time, runs without a clock are named in
    /// the thrown error.
    public static func runs(_ runs: [RunComparison.Run], groups: [RunComparison.SeedGroup]?,
                            axis: ComparisonAxis) throws(ComparisonError) -> [Chart] {
        var metrics: [ComparisonMetric] = [.cleanAccuracy]
        if runs.contains(where: { $0.log.rounds.contains { $0.eval?.robustAccuracy != nil } }) { metrics.append(.robustAccuracy) }
        metrics.append(.cleanLoss)
        var charts: [Chart] = []
        var labels: [String] = []
        for metric in metrics {
            let comparison = try RunComparison(runs: runs, metric: metric, axis: axis, groups: groups)
            labels = comparison.labels
            charts.append(chart(comparison.plot()))
        }
        let labelled = zip(labels, runs).map { (label: $0, log: $1.log) }
        let grouping = groups.flatMap { g in g.contains { $0.members.count > 1 } ? g : nil }
        return charts + [chart(participationPlot(labelled, groups: grouping)), chart(bytesPlot(labelled, groups: grouping)),
                         chart(weightSpreadPlot(labelled, groups: grouping))]
    }

    /// Accepted clients per round, one line per run (or group).
    static func participationPlot(_ runs: [(label: String, log: AggregationLog)], groups: [RunComparison.SeedGroup]?) -> LinePlot {
        overlay(title: "Accepted clients per round", yLabel: "clients", metric: .accepted, runs: runs, groups: groups) { log in
            log.rounds.map { PlotPoint(x: Double($0.round), y: Double($0.accepted.count)) }
        }
    }

    /// Protocol bytes per round (`bytes_sent` + `bytes_received`, every frame): one run shows
    /// the two directions, several runs their totals.
    static func bytesPlot(_ runs: [(label: String, log: AggregationLog)], groups: [RunComparison.SeedGroup]?) -> LinePlot {
        if runs.count == 1 {
            let rounds = runs[0].log.rounds
            func line(_ name: String, _ metric: PlotMetric, _ value: (RoundRecord) -> Int?) -> LinePlot.Series {
                LinePlot.Series(name: name, color: PlotPalette.color(metric),
                                points: rounds.compactMap { r in value(r).map { PlotPoint(x: Double(r.round), y: Double($0)) } })
            }
            return LinePlot(title: "Server bytes per round", xLabel: "round", yLabel: "bytes",
                            series: [line("sent", .cleanAccuracy, \.bytesSent), line("received", .robustAccuracy, \.bytesReceived)])
        }
        return overlay(title: "Server bytes per round (sent + received)", yLabel: "bytes", metric: .updateNorm, runs: runs, groups: groups) { log in
            log.rounds.compactMap { r in
                guard let s = r.bytesSent, let g = r.bytesReceived else { return nil }
                return PlotPoint(x: Double(r.round), y: Double(s + g))
            }
        }
    }

    /// How uneven each round's merge weights were: the largest weight over the uniform share
    /// 1/n (n = clients merged); 1 is uniform, FedAvg on equal shards stays near it.
    static func weightSpreadPlot(_ runs: [(label: String, log: AggregationLog)], groups: [RunComparison.SeedGroup]?) -> LinePlot {
        overlay(title: "Merge weights: largest ÷ uniform share", yLabel: "max weight × n merged", metric: .checkpointMerge,
                runs: runs, groups: groups) { log in
            log.rounds.compactMap { r in
                guard let top = r.weights.values.max(), !r.weights.isEmpty else { return nil }
                return PlotPoint(x: Double(r.round), y: top * Double(r.weights.count))
            }
        }
    }

    /// One series per run, or per seed group as its mean with a ±1 std band (`RoundBand`).
    static func overlay(title: String, yLabel: String, metric: PlotMetric, runs: [(label: String, log: AggregationLog)],
                        groups: [RunComparison.SeedGroup]?, points: (AggregationLog) -> [PlotPoint]) -> LinePlot {
        let series: [LinePlot.Series]
        if let groups {
            series = groups.enumerated().map { i, g in
                let bands = RoundBand.bands(g.members.map { points(runs[$0].log) })
                var line = LinePlot.Series(name: "\(g.label) (n=\(g.members.count))", color: PlotPalette.runColor(metric, run: i),
                                           points: bands.map { PlotPoint(x: Double($0.round), y: $0.stats.mean) },
                                           dash: PlotPalette.runDash(run: i))
                line.band = bands.compactMap { b in b.stats.std.map { (x: Double(b.round), low: b.stats.mean - $0, high: b.stats.mean + $0) } }
                return line
            }
        } else {
            series = runs.enumerated().map { i, run in
                LinePlot.Series(name: run.label, color: PlotPalette.runColor(metric, run: i), points: points(run.log),
                                dash: PlotPalette.runDash(run: i))
            }
        }
        return LinePlot(title: title + (groups == nil ? "" : ", mean ± std across seeds"), xLabel: "round", yLabel: yLabel, series: series)
    }

    static func chart(_ plot: LinePlot) -> Chart { Chart(title: plot.title, svg: plot.svg()) }
    static func chart(_ plot: StackedBarPlot) -> Chart { Chart(title: plot.title, svg: plot.svg()) }
}
