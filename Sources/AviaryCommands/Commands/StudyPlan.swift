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
struct StudyPlan: Equatable {
    struct Study: Equatable {
        var title: String
        var runs: [String]
        var baseline: String?
        var attacks: [String]
        var skew: Bool
        var pivot: String? = nil
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
            for key in t.keys where !["title", "runs", "baseline", "attacks", "skew", "pivot"].contains(key) {
                throw .invalid(file: file, key: "\(at).\(key)", reason: "unknown key; use title, runs, baseline, attacks, skew, pivot")
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
            if let p = t["pivot"], p.string == nil { throw .invalid(file: file, key: "\(at).pivot", reason: "expected a setting's key, e.g. \"merge.strategy\"") }
            studies.append(Study(title: title, runs: runs, baseline: t["baseline"]?.string, attacks: try strings("attacks"),
                                 skew: t["skew"]?.bool ?? false, pivot: t["pivot"]?.string))
        }
    }
}
