import Foundation
import TOMLKit

/// What `aviary results` tabulates: a TOML file of studies, each naming the directories holding
/// its runs (sweeps), the baseline row and any stronger attacks to score the final checkpoints with.
///
///     last_k = 10
///     [[study]]
///     title = "IID vs Dirichlet vs shards"
///     runs = ["runs/experiments/partition"]
///     baseline = "data.partition=iid"
///     attacks = ["apgd-ce:eps=0.1,steps=100"]   # optional
///     skew = true                                # optional: which clients the weights favour
///     [study.checkpoint_merge]                   # optional: the MWA paper's comparison on the runs
///     windows = [5, 10, 20]
///     metrics = ["val_loss", "train_loss", "adv_loss", "steps"]
///     penalties = [0, 0.5, 1, 2, 4]              # 0 = the uniform merge (always computed)
///     samples = 1000                             # test samples each attack scores (optional)
struct StudyPlan: Equatable {
    struct Study: Equatable {
        var title: String
        var runs: [String]
        var baseline: String?
        var attacks: [String]
        var skew: Bool
        var pivot: String? = nil
        /// A sentence printed under the study's title (what the numbers cannot say themselves,
        /// e.g. why a setting cannot act).
        var note: String? = nil
        var checkpointMerge: MergeGrid? = nil
        /// `time_to_target = true`: each row's simulated time to the baseline's accuracy.
        var timeToTarget = false
    }

    /// `[study.checkpoint_merge]`: each run's last `window` checkpoints merged by every metric ×
    /// penalty (`aviary merge --run` without files), scored clean and under the study's first attack.
    struct MergeGrid: Equatable {
        var windows: [Int]
        var metrics: [String]
        var penalties: [Double]
        var samples: Int?
    }

    var lastK: Int
    var studies: [Study]

    enum Failure: Error, CustomStringConvertible, Equatable {
        case unreadable(file: String, reason: String)
        case invalid(file: String, key: String, reason: String)
        var description: String {
            switch self {
            case let .unreadable(file, reason): "\(file): \(reason)"
            case let .invalid(file, key, reason): "\(file): \(key): \(reason)"
            }
        }
    }

    init(text: String, file: String) throws(Failure) {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch { throw .unreadable(file: file, reason: "\(error)") }
        for key in root.keys where !["last_k", "study"].contains(key) {
            throw .invalid(file: file, key: key, reason: "unknown key; use last_k or [[study]]")
        }
        if let k = root["last_k"] {
            guard let v = k.int, v >= 1 else { throw .invalid(file: file, key: "last_k", reason: "expected a whole number ≥ 1") }
            lastK = v
        } else {
            lastK = 10
        }
        guard let list = root["study"]?.array, !list.isEmpty else {
            throw .invalid(file: file, key: "study", reason: "name at least one [[study]]")
        }
        studies = []
        for (i, item) in list.enumerated() {
            let at = "study[\(i)]"
            guard let t = item.table else { throw .invalid(file: file, key: at, reason: "expected a table [[study]]") }
            for key in t.keys where !["title", "runs", "baseline", "attacks", "skew", "pivot", "note", "checkpoint_merge", "time_to_target"].contains(key) {
                throw .invalid(file: file, key: "\(at).\(key)", reason: "unknown key; use title, runs, baseline, attacks, skew, pivot, note, checkpoint_merge, time_to_target")
            }
            guard let title = t["title"]?.string else { throw .invalid(file: file, key: "\(at).title", reason: "a string is required") }
            func strings(_ key: String) throws(Failure) -> [String] {
                guard let v = t[key] else { return [] }
                guard let a = v.array else { throw .invalid(file: file, key: "\(at).\(key)", reason: "expected an array of strings") }
                var out: [String] = []
                for e in a {
                    guard let s = e.string else { throw .invalid(file: file, key: "\(at).\(key)", reason: "expected an array of strings") }
                    out.append(s)
                }
                return out
            }
            let runs = try strings("runs")
            guard !runs.isEmpty else { throw .invalid(file: file, key: "\(at).runs", reason: "name at least one run directory") }
            if let b = t["baseline"], b.string == nil { throw .invalid(file: file, key: "\(at).baseline", reason: "expected a string") }
            if let s = t["skew"], s.bool == nil { throw .invalid(file: file, key: "\(at).skew", reason: "expected true or false") }
            if let n = t["note"], n.string == nil { throw .invalid(file: file, key: "\(at).note", reason: "expected a string") }
            if let v = t["time_to_target"], v.bool == nil { throw .invalid(file: file, key: "\(at).time_to_target", reason: "expected true or false") }
            if t["time_to_target"]?.bool == true, t["baseline"] == nil {
                throw .invalid(file: file, key: "\(at).time_to_target", reason: "needs a baseline: the target is the baseline row's accuracy")
            }
            if let p = t["pivot"], p.string == nil { throw .invalid(file: file, key: "\(at).pivot", reason: "expected a setting's key, e.g. \"merge.strategy\"") }
            studies.append(Study(title: title, runs: runs, baseline: t["baseline"]?.string, attacks: try strings("attacks"),
                                 skew: t["skew"]?.bool ?? false, pivot: t["pivot"]?.string, note: t["note"]?.string,
                                 timeToTarget: t["time_to_target"]?.bool ?? false))
            if let grid = t["checkpoint_merge"] {
                studies[studies.count - 1].checkpointMerge = try Self.mergeGrid(grid, file: file, at: "\(at).checkpoint_merge")
            }
        }
    }

    static func mergeGrid(_ value: any TOMLValueConvertible, file: String, at: String) throws(Failure) -> MergeGrid {
        guard let t = value.table else { throw .invalid(file: file, key: at, reason: "expected a table [study.checkpoint_merge]") }
        for key in t.keys where !["windows", "metrics", "penalties", "samples"].contains(key) {
            throw .invalid(file: file, key: "\(at).\(key)", reason: "unknown key; use windows, metrics, penalties, samples")
        }
        func list<T>(_ key: String, _ convert: (any TOMLValueConvertible) -> T?, _ ok: (T) -> Bool, _ expected: String) throws(Failure) -> [T] {
            guard let a = t[key]?.array, !a.isEmpty else { throw .invalid(file: file, key: "\(at).\(key)", reason: "expected a non-empty array of \(expected)") }
            var out: [T] = []
            for e in a {
                guard let v = convert(e), ok(v) else { throw .invalid(file: file, key: "\(at).\(key)", reason: "expected an array of \(expected)") }
                out.append(v)
            }
            return out
        }
        let metricNames = ["val_loss", "clean_loss", "train_loss", "adv_loss", "steps", "round"]
        let windows = try list("windows", { $0.int }, { $0 >= 2 }, "windows of at least 2 rounds")
        let metrics = try list("metrics", { $0.string }, { metricNames.contains($0) }, metricNames.joined(separator: ", "))
        let penalties = try list("penalties", { $0.double ?? $0.int.map(Double.init) }, { (0...10).contains($0) }, "penalties in 0…10")
        var samples: Int? = nil
        if let v = t["samples"] {
            guard let n = v.int, n >= 1 else { throw .invalid(file: file, key: "\(at).samples", reason: "expected a whole number ≥ 1") }
            samples = n
        }
        return MergeGrid(windows: windows, metrics: metrics, penalties: penalties, samples: samples)
    }
}
