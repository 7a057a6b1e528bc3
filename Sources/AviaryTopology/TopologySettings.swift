import TOMLKit

/// A topology's settings as flat `section.key → value` text, for telling runs apart: two runs
/// of one experiment differ only in `[seeds]` (and their names), so `aviary compare` and the
/// results generator group runs whose `experiment` settings are equal.
public struct TopologySettings: Sendable, Equatable {
    /// Every key, TOML-formatted values (`0.5`, `"mwa"`, `[200, 200]`).
    public var all: [String: String]

    public init(text: String, file: String) throws(TopologyError) {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw .unreadable(file: file, reason: "\(error)")
        }
        var flat: [String: String] = [:]
        Self.flatten(root, prefix: "", into: &flat)
        all = flat
    }

    /// Keys that name a run or choose its seeds, not what is being measured.
    public static func isRunIdentity(_ key: String) -> Bool {
        key == "run.name" || key == "run.output" || key.hasPrefix("seeds.")
    }

    /// The settings that define the experiment: all but names and seeds.
    public var experiment: [String: String] { all.filter { !Self.isRunIdentity($0.key) } }

    /// The seed settings (`seeds.*`), for labelling a run within its group.
    public var seeds: [String: String] { all.filter { $0.key.hasPrefix("seeds.") } }

    private static func flatten(_ table: TOMLTable, prefix: String, into flat: inout [String: String]) {
        for key in table.keys {
            guard let value = table[key] else { continue }
            let path = prefix.isEmpty ? key : prefix + "." + key
            if let child = value.table {
                flatten(child, prefix: path, into: &flat)
            } else {
                flat[path] = Self.text(value)
            }
        }
    }

    private static func text(_ value: TOMLValueConvertible) -> String {
        if let s = value.string { return "\"" + s + "\"" }
        if let b = value.bool { return String(b) }
        if let i = value.int { return String(i) }
        if let d = value.double { return String(d) }
        if let a = value.array { return "[" + a.map { text($0) }.joined(separator: ", ") + "]" }
        // An array of tables (`[[system.devices]]`): inline, keys sorted, on one line.
        if let t = value.table {
            return "{" + t.keys.sorted().compactMap { k in t[k].map { "\(k) = \(text($0))" } }.joined(separator: ", ") + "}"
        }
        return "\(value)"
    }

    /// For each group of equal experiments, the `key=value` pairs in which it differs from the
    /// other groups (sorted by key): short labels for a table of runs that vary a few settings.
    public static func distinguishingLabels(_ groups: [[String: String]]) -> [String] {
        distinguishingSettings(groups).map { g in g.keys.sorted().map { "\($0)=\(g[$0]!)" }.joined(separator: ", ") }
    }

    /// For each group, its values (plain, unquoted) of the keys whose values differ between groups.
    public static func distinguishingSettings(_ groups: [[String: String]]) -> [[String: String]] {
        let keys = Set(groups.flatMap(\.keys)).sorted()
        let varying = keys.filter { k in Set(groups.map { $0[k] ?? "(default)" }).count > 1 }
        return groups.map { g in
            Dictionary(uniqueKeysWithValues: varying.map { ($0, Self.plain(g[$0] ?? "(default)")) })
        }
    }

    /// `"mwa"` → `mwa` for labels.
    static func plain(_ value: String) -> String {
        value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? String(value.dropFirst().dropLast()) : value
    }
}
