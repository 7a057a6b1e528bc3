import TOMLKit

/// `--set key.path=value` overrides, applied to the topology's TOML before it is parsed, so an
/// override is validated exactly like the file (unknown keys, types and ranges name the key).
/// The value is read as a TOML value (`0.5`, `true`, `"x"`, `[64, 64]`); anything that is not
/// one is taken as a string (`--set merge.strategy=mwa`).
///
/// `--set seeds.base=N` re-derives every seed no override sets: the file's own `partition`,
/// `sampling`, `training`, `system` and `attackers` seeds give way to `N+1` … `N+5`, so one
/// override changes the whole run's randomness (a sweep's `--seeds`).
extension Topology {
    /// `text` with every `key.path=value` of `overrides` applied, as TOML (comments are not kept).
    public static func applying(_ overrides: [String], to text: String, file: String) throws(TopologyError) -> String {
        guard !overrides.isEmpty else { return text }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw .unreadable(file: file, reason: "\(error)")
        }
        var paths: [[String]] = []
        for override in overrides {
            guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
                throw .unreadable(file: "--set \(override)", reason: "expected key.path=value, e.g. merge.penalty=0.5")
            }
            let path = override[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else {
                throw .unreadable(file: "--set \(override)", reason: "the key path '\(override[..<eq])' has an empty part")
            }
            let value = Self.overrideValue(String(override[override.index(after: eq)...]))
            try Self.set(value, at: path[...], in: root, override: override)
            paths.append(path)
        }
        if paths.contains(["seeds", "base"]), let seeds = root["seeds"]?.table {
            for key in ["partition", "sampling", "training", "system", "attackers"] where !paths.contains(["seeds", key]) {
                seeds.remove(at: key)
            }
            root["seeds"] = seeds
        }
        return root.convert(to: .toml)
    }

    private static func overrideValue(_ raw: String) -> TOMLValueConvertible {
        if let parsed = try? TOMLTable(string: "v = " + raw), let v = parsed["v"] { return v }
        return raw
    }

    /// Sets `value` at `path` below `table`, creating missing tables; a table on the way is read,
    /// changed and written back, whatever TOMLKit's copy semantics are.
    private static func set(_ value: TOMLValueConvertible, at path: ArraySlice<String>, in table: TOMLTable,
                            override: String) throws(TopologyError) {
        let key = path.first!
        if path.count == 1 {
            table[key] = value
            return
        }
        let child: TOMLTable
        if let existing = table[key] {
            guard let t = existing.table else {
                throw .unreadable(file: "--set \(override)", reason: "'\(key)' is a value, not a table")
            }
            child = t
        } else {
            child = TOMLTable()
        }
        try set(value, at: path.dropFirst(), in: child, override: override)
        table[key] = child
    }
}
