import AviaryAdversarial
import AviaryLog
import AviaryMerge
import AviaryReport
import AviaryTopology
import Foundation

/// The checkpoint-merging study of `[study.checkpoint_merge]` (docs/RESULTS.md): for each saved
/// run, its last W round checkpoints merged by every metric × penalty exactly as `aviary merge
/// --run` merges them (no retraining), each merge scored clean and under the study's attack.
/// Scores are kept in RUN/evals/checkpoint-merges.json, keyed by setting, attack, sample count
/// and last round, so regenerating the document reuses them.
enum CheckpointMergeRunner {
    typealias Scores = CheckpointMergeStudy.Scores

    static func study(groups: [(label: String, runs: [String])], grid: StudyPlan.MergeGrid,
                      attack: String?) throws -> CheckpointMergeStudy {
        let spec = try attack.map { try EvalAttack.parse($0, allowWeak: false) }
        var out: [CheckpointMergeStudy.Group] = []
        for g in groups {
            var last: [Scores] = []
            var merges: [String: [Scores]] = [:]
            for run in g.runs {
                let r = try scores(run: run, grid: grid, attack: attack, spec: spec)
                last.append(r.last)
                for (k, v) in r.merges { merges[k, default: []].append(v) }
            }
            out.append(.init(label: g.label, last: last, merges: merges))
        }
        return CheckpointMergeStudy(groups: out, windows: grid.windows, metrics: grid.metrics, penalties: grid.penalties,
                                    attack: spec?.summary)
    }

    /// One run's last checkpoint and merges, keyed by `CheckpointMergeStudy.Setting.key`.
    static func scores(run: String, grid: StudyPlan.MergeGrid, attack: String?,
                       spec: AttackSpec?) throws -> (last: Scores, merges: [String: Scores]) {
        let files = RunDirectory(path: run)
        let log = try AggregationLog.read(path: files.log)
        guard let lastRound = log.rounds.filter({ $0.checkpoint != nil }).map(\.round).max() else {
            throw Failure.noCheckpoint(run: run)
        }
        let cachePath = run + "/evals/checkpoint-merges.json"
        var cache: [String: Scores] = (FileManager.default.contents(atPath: cachePath))
            .flatMap { try? JSONDecoder().decode([String: Scores].self, from: $0) } ?? [:]
        let suffix = " | \(attack ?? "clean") | samples \(grid.samples.map(String.init) ?? "default") | last round \(lastRound)"
        var scorer: CheckpointScorer? = nil
        var loaded: [String: [Float]] = [:]
        func ready() throws -> CheckpointScorer {
            if let scorer { return scorer }
            let made = try CheckpointScorer(topology: try Topology.load(path: files.topology))
            scorer = made
            return made
        }
        func parameters(_ path: String) throws -> [Float] {
            if let p = loaded[path] { return p }
            let p = try ready().parameters(checkpoint: path)
            loaded[path] = p
            return p
        }
        func score(_ key: String, _ model: () throws -> [Float]) throws -> Scores {
            if let hit = cache[key + suffix] { return hit }
            let rows = try ready().score(try model(), attacks: spec.map { [$0] } ?? [], samples: grid.samples)
            let s = Scores(clean: rows[0].accuracy, robust: rows.count > 1 ? rows[1].accuracy : nil)
            cache[key + suffix] = s
            return s
        }

        let last = try score("last") {
            try parameters(try RunCheckpoints.select(log: log, runDirectory: run, rounds: [lastRound], metric: .round)[0].path)
        }
        var merges: [String: Scores] = [:]
        for w in grid.windows {
            guard w <= lastRound else { throw Failure.shortRun(run: run, window: w, rounds: lastRound) }
            let rounds = Array((lastRound - w + 1)...lastRound)
            var settings = [CheckpointMergeStudy.Setting(window: w, metric: "round", penalty: 0)]
            for m in grid.metrics { for p in grid.penalties where p > 0 { settings.append(.init(window: w, metric: m, penalty: p)) } }
            for s in settings {
                merges[s.key] = try score(s.key) {
                    guard let metric = RunCheckpoints.Metric(rawValue: s.metric) else { throw Failure.unknownMetric(s.metric) }
                    let inputs = try RunCheckpoints.select(log: log, runDirectory: run, rounds: rounds, metric: metric)
                    let checkpoints = try inputs.map { (parameters: try parameters($0.path), metric: $0.metric) }
                    return try mergeCheckpoints(checkpoints, kind: metric.kind, penalty: s.penalty).parameters
                }
            }
        }
        try FileManager.default.createDirectory(atPath: run + "/evals", withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(cache), to: cachePath)
        return (last, merges)
    }

    enum Failure: Error, CustomStringConvertible {
        case noCheckpoint(run: String)
        case shortRun(run: String, window: Int, rounds: Int)
        case unknownMetric(String)

        var description: String {
            switch self {
            case let .noCheckpoint(run): "\(run): the log names no round checkpoint to merge"
            case let .shortRun(run, window, rounds): "\(run): a window of \(window) checkpoints needs \(window) rounds; the run has \(rounds)"
            case let .unknownMetric(m): "checkpoint_merge: unknown metric '\(m)'"
            }
        }
    }
}
