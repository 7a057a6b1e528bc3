import Foundation
import AviaryLog
import AviaryReport

/// The dashboard's state behind the HTTP layer: one catalog of watched runs, refreshed at most
/// every `refreshInterval` however many pages poll. An actor, so requests see one catalog.
actor DashboardModel {
    private var catalog: RunCatalog
    private var lastRefresh = Date.distantPast
    private var rows: [RunRow] = []
    /// Seed groups as `aviary compare` forms them (AviaryCommands reads the saved topologies).
    private let grouping: @Sendable ([String]) -> [RunComparison.SeedGroup]?

    static let refreshInterval: TimeInterval = 0.25

    init(catalog: RunCatalog, grouping: @escaping @Sendable ([String]) -> [RunComparison.SeedGroup]?) {
        self.catalog = catalog; self.grouping = grouping
    }

    struct RunList: Codable {
        var root: String
        var runs: [RunRow]
        /// Shown above the list: why it is empty.
        var message: String?
    }

    func runList() -> RunList {
        refresh(detailed: [])
        let message = rows.isEmpty
            ? "no runs under \(catalog.root) yet (a run is a directory holding aggregation.jsonl); runs appear here as they start" : nil
        return RunList(root: catalog.root, runs: rows, message: message)
    }

    struct ChartSet: Codable {
        /// Which versions of the runs the charts were drawn from (`id:version,…`).
        var version: String
        var charts: [ChartJSON]
        var problems: [String]
    }
    struct ChartJSON: Codable { var title: String; var svg: String }

    func charts(ids: [String], axis: ComparisonAxis) throws -> ChartSet {
        refresh(detailed: Set(ids), force: ids.contains { catalog.runs[$0]?.records == nil })
        var runs: [RunComparison.Run] = []
        for id in ids {
            guard let watched = catalog.runs[id], let log = watched.log else { throw DashboardError.unknownRun(id) }
            runs.append(RunComparison.Run(path: id, log: log))
        }
        let charts: [Chart]
        if runs.count == 1 {
            charts = DashboardCharts.run(runs[0].log, source: ids[0])
        } else {
            let directories = ids.map { catalog.runs[$0]!.directory }
            charts = try DashboardCharts.runs(runs, groups: grouping(directories), axis: axis)
        }
        return ChartSet(version: ids.map { "\($0):\(catalog.runs[$0]!.version)" }.joined(separator: ","),
                        charts: charts.map { ChartJSON(title: $0.title, svg: $0.svg) },
                        problems: ids.flatMap { catalog.runs[$0]!.problems })
    }

    private func refresh(detailed: Set<String>, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastRefresh) >= Self.refreshInterval else { return }
        rows = catalog.refresh(detailed: detailed, now: now)
        lastRefresh = now
    }
}
