import Foundation
import AviaryLog

/// The per-round metric `aviary compare` overlays.
public enum ComparisonMetric: String, CaseIterable, Sendable {
    case cleanAccuracy = "clean_accuracy"
    case cleanLoss = "clean_loss"
    case robustAccuracy = "robust_accuracy"

    /// The palette key, so the comparison draws the metric in the report's colour.
    public var plotMetric: PlotMetric {
        switch self {
        case .cleanAccuracy: .cleanAccuracy
        case .cleanLoss: .cleanLoss
        case .robustAccuracy: .robustAccuracy
        }
    }

    func value(_ e: Evaluation) -> Double? {
        switch self {
        case .cleanAccuracy: e.cleanAccuracy
        case .cleanLoss: e.cleanLoss
        case .robustAccuracy: e.robustAccuracy
        }
    }
}

/// Several runs side by side: one overlay plot of a per-round metric and a table of final
/// metrics, as HTML and as plain text. Runs may have different lengths.
public struct RunComparison: Sendable {
    public struct Run: Sendable {
        public var path: String
        public var log: AggregationLog
        public init(path: String, log: AggregationLog) { self.path = path; self.log = log }
    }

    public var runs: [Run]
    public var metric: ComparisonMetric
    /// Runs that differ only by seed, as indices into `runs`, with a label each; when any group
    /// holds more than one run, the table and plot show means ± std across seeds.
    public var groups: [SeedGroup]
    /// How many of the last evaluated rounds the "last K" columns average.
    public var lastK: Int
    /// What the plot's x axis is (`RunComparison+Axis.swift`); rounds unless set by the throwing init.
    public internal(set) var axis: ComparisonAxis = .round

    public struct SeedGroup: Sendable, Equatable {
        public var label: String
        public var members: [Int]
        /// The settings that tell this group from the others (`merge.penalty` → `0.5`).
        public var settings: [String: String]
        public init(label: String, members: [Int], settings: [String: String] = [:]) {
            self.label = label; self.members = members; self.settings = settings
        }
    }

    public init(runs: [Run], metric: ComparisonMetric, groups: [SeedGroup]? = nil, lastK: Int = 10) {
        // "last 10" over runs of 5 evaluated rounds would promise more than it averages.
        let evaluated = runs.map { $0.log.rounds.filter { $0.eval != nil }.count }.max() ?? 0
        self.runs = runs; self.metric = metric; self.lastK = max(1, min(lastK, evaluated))
        self.groups = groups ?? []
        if self.groups.isEmpty {
            self.groups = labels.enumerated().map { SeedGroup(label: $1, members: [$0]) }
        }
    }

    /// True when some group has several seeds, so the comparison is by group.
    public var isGrouped: Bool { groups.contains { $0.members.count > 1 } }

    public var finals: [FinalMetrics] { runs.map { FinalMetrics(log: $0.log, path: $0.path) } }

    /// Run names, or paths when two runs share a name.
    public var labels: [String] {
        let names = finals.map(\.run)
        return Set(names).count == names.count ? names : runs.map(\.path)
    }

    /// Each run in its own hue (run 0 in the metric's colour), named in the legend with the
    /// configuration keys that differ between the runs; dash patterns tell runs past ten apart.
    public func plot() -> LinePlot {
        if isGrouped { return groupedPlot() }
        let keys = differingKeys
        let series = runs.enumerated().map { i, run in
            let points = points(run)
            let name = legendName(run: i, keys: keys)
            return LinePlot.Series(name: points.isEmpty ? "\(name) (no \(metric.rawValue))" : name,
                                   color: PlotPalette.runColor(metric.plotMetric, run: i), points: points,
                                   dash: PlotPalette.runDash(run: i))
        }
        return LinePlot(title: plotTitle, xLabel: xLabel, yLabel: metric.rawValue,
                        series: series, width: 760, height: 380, integerX: axis == .round)
    }

    static let columns = ["run", "rounds", "duration", "clean_acc", "clean_loss", "robust_acc", "status"]

    /// The final-metrics table's header: the run, the differing configuration keys, the metrics.
    func header(keys: [String]) -> [String] {
        [Self.columns[0]] + keys + Self.columns.dropFirst().dropLast() + (showsEpsilon ? ["epsilon"] : []) + ["status"]
    }

    /// An ε column (ε spent by each run's last round) when any run had `[privacy]` on.
    var showsEpsilon: Bool { finals.contains { $0.isPrivate } }

    func rows(keys: [String]) -> [[String]] {
        zip(labels, finals).enumerated().map { i, pair in
            let (label, f) = pair
            return [label] + values(of: keys, run: i)
                + [String(f.rounds), f.durationSeconds.map { String(format: "%.1f s", $0) } ?? "-",
                   Markup.fixed(f.cleanAccuracy), Markup.fixed(f.cleanLoss), Markup.fixed(f.robustAccuracy)]
                + (showsEpsilon ? [f.epsilon.map { String(format: "%.3f", $0) } ?? "-"] : []) + [f.status]
        }
    }

    /// The final-metrics table as aligned text (first column left-aligned, numbers right-aligned),
    /// with up to `textColumnsForKeys` differing keys as columns and the others named below it.
    public func textTable() -> String {
        let keys = differingKeys
        let shown = Array(keys.prefix(Self.textColumnsForKeys))
        let all = isGrouped ? [Self.groupColumns(lastK: lastK)] + groupRows() : [header(keys: shown)] + rows(keys: shown)
        let widths = all[0].indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 || c == row.count - 1 ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
            + (isGrouped || keys.count <= shown.count ? "" : "also differ: " + keys.dropFirst(shown.count).joined(separator: ", ") + " (the page shows them all)\n")
    }

    public func html() -> String {
        var page = HTMLPage(title: "Aviary comparison: \(labels.joined(separator: ", "))")
        page.heading("Comparison of \(runs.count) runs", level: 1)
        page.figures([plot().svg()])
        if isGrouped {
            page.heading("Mean ± std across seeds")
            page.paragraph("Runs whose settings differ only in [seeds] are grouped; last \(lastK) = the mean of each run's last \(lastK) evaluated rounds, then mean ± sample std across the group's runs."
                           + (axis == .simulated ? " Against simulated time, each run's curve is interpolated linearly at every time another run of its group evaluated, between its own first and last evaluation; the line is the mean of the runs that reach a time, the band ±1 std where two do." : ""))
            page.table(header: Self.groupColumns(lastK: lastK), rows: groupRows())
        }
        page.heading("Final metrics")
        let keys = differingKeys
        if !isGrouped {
            page.paragraph(keys.isEmpty ? "The runs' configurations do not differ (their names, output directories and bind addresses aside)."
                           : "Between the run name and the metrics: the configuration keys whose values differ between the runs.")
        }
        page.table(header: isGrouped ? header(keys: []) : header(keys: keys), rows: isGrouped ? rows(keys: []) : rows(keys: keys))
        page.heading("Runs")
        let setup = zip(labels, runs).map { label, run -> [String] in
            guard let s = run.log.runStart else { return [label, run.path, "-", "-", "-", "-"] }
            return [label, run.path, "\(s.model) (\(s.parameters))", s.strategy, "\(s.dataset) / \(s.partition)", "\(s.clients) (\(s.clientsPerRound)/round)"]
        }
        page.table(header: ["run", "path", "model", "strategy", "data", "clients"], rows: setup)
        return page.html()
    }
}
