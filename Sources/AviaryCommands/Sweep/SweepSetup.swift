import Foundation
import AviaryLog
import AviaryTopology

/// Everything a sweep decides before any process starts: the plan, each run's validated
/// topology and `--set` list, and what is already on disk for each run.
struct SweepSetup {
    var file: String
    var plan: SweepPlan
    var baseOverrides: [String]
    var sweepName: String
    /// `<[run].output>/<sweep>`.
    var directory: String
    /// Per run, in plan order: its topology (named after the run) and the overrides that make it.
    var topologies: [Topology]
    var overrides: [[String]]
    var existing: [ExistingRun]
    /// The index a previous invocation wrote, if any (for the wall times of runs it completed).
    var previous: SweepIndex?

    /// What a run's directory holds before the sweep starts.
    enum ExistingRun {
        case absent
        case completed(wallSeconds: Double?)
        case incomplete(reason: String)
        /// A completed run whose topology.toml differs from this sweep's: never overwritten.
        case conflicting(run: String, reason: String)

        var plan: String {
            switch self {
            case .absent: "to run"
            case .completed: "complete: skipped"
            case let .incomplete(reason): "incomplete (\(reason)): runs again from scratch"
            case let .conflicting(_, reason): "CONFLICT: \(reason)"
            }
        }
    }

    var conflict: ExistingRun? {
        existing.first { if case .conflicting = $0 { true } else { false } }
    }

    var completedCount: Int {
        existing.filter { if case .completed = $0 { true } else { false } }.count
    }

    var indexPath: String { directory + "/" + SweepIndex.fileName }

    static func make(file: String, grids: [String], seeds: String?, overrides: [String], name: String?) throws -> SweepSetup {
        let axes = try grids.map { (g: String) throws(SweepPlanError) in try SweepPlan.axis(g) }
        let plan = try SweepPlan(axes: axes, seeds: try seeds.map { (s: String) throws(SweepPlanError) in try SweepPlan.seeds(s) })
        let base = try Topology.load(path: file, overrides: overrides)
        let sweepName = name ?? base.name + "-sweep"
        try RunPlacement.checkName(sweepName)
        let directory = base.output + "/" + sweepName
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw TopologyError.unreadable(file: file, reason: "cannot read it again")
        }
        var topologies = try plan.topologies(text: text, file: file, overrides: overrides, output: directory)
        for i in topologies.indices { topologies[i].name = plan.runs[i].name }
        let runOverrides = plan.runs.map { plan.overrides(for: $0, base: overrides, output: directory) }
        let existing = topologies.map { Self.existing(RunDirectory(path: $0.output + "/" + $0.name), source: $0.source) }
        let previous = try? SweepIndex.read(path: directory + "/" + SweepIndex.fileName)
        return SweepSetup(file: file, plan: plan, baseOverrides: overrides, sweepName: sweepName, directory: directory,
                          topologies: topologies, overrides: runOverrides, existing: existing, previous: previous)
    }

    /// A run counts as done only with `run_end` status `completed` and the same resolved topology.
    static func existing(_ dir: RunDirectory, source: String) -> ExistingRun {
        guard FileManager.default.fileExists(atPath: dir.path) else { return .absent }
        guard FileManager.default.fileExists(atPath: dir.log) else { return .incomplete(reason: "no aggregation.jsonl") }
        guard let log = try? AggregationLog.read(path: dir.log) else { return .incomplete(reason: "unreadable log") }
        guard let end = log.runEnd else { return .incomplete(reason: "no run_end") }
        guard end.status == "completed" else { return .incomplete(reason: "run_end status \(end.status)") }
        let saved = (try? String(contentsOfFile: dir.topology, encoding: .utf8)) ?? ""
        guard saved == source else {
            return .conflicting(run: dir.path, reason: "completed with a different topology (its topology.toml differs from this sweep's)")
        }
        return .completed(wallSeconds: end.durationSeconds)
    }

    /// `penalty × 4, metric × 2, seeds × 3`.
    func describeAxes() -> String {
        (plan.axes.map { "\($0.key) × \($0.values.count)" } + (plan.seeds.map { ["seeds × \($0.count)"] } ?? []))
            .joined(separator: ", ")
    }

    /// The index as it stands before any run starts.
    func initialIndex(parallel: Int) -> SweepIndex {
        let runs = plan.runs.enumerated().map { i, run -> SweepIndex.Run in
            var entry = SweepIndex.Run(name: run.name, directory: directory + "/" + run.name,
                                       settings: SweepPlan.settings(of: run, in: topologies[i]), seed: run.seed, status: "pending")
            if case let .completed(wall) = existing[i] {
                entry.status = "completed"
                entry.wallSeconds = previous?.runs.first { $0.name == run.name && $0.status == "completed" }?.wallSeconds ?? wall
            }
            return entry
        }
        return SweepIndex(sweep: sweepName, topology: file, directory: directory, overrides: baseOverrides,
                          grid: plan.axes.map { SweepIndex.Axis(key: $0.key, values: $0.values) }, seeds: plan.seeds,
                          parallel: parallel, updated: ISO8601DateFormatter().string(from: Date()), runs: runs)
    }
}
