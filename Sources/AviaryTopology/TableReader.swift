import TOMLKit
import AviaryLog

/// Reads one TOML table with typed accessors that name the full key on error, and remembers
/// which keys were read so `finish()` can reject typos ("penalti") instead of ignoring them.
final class TableReader {
    let file: String
    let prefix: String
    /// Shared by a reader and every reader it opens: what `Topology.warnings` returns.
    let warnings: WarningSink
    /// Shared likewise: every key read with its resolved value (defaults included), which
    /// becomes `Topology.config` and the log's `run_start.config`.
    let config: ConfigSink
    private let table: TOMLTable?
    private var used: Set<String> = []

    init(_ table: TOMLTable?, file: String, prefix: String, warnings: WarningSink = WarningSink(), config: ConfigSink = ConfigSink()) {
        self.table = table; self.file = file; self.prefix = prefix; self.warnings = warnings; self.config = config
    }

    private func record(_ k: String, _ v: ConfigValue) {
        var v = v
        // A default that passed through Float (the attack settings) is recorded as the decimal
        // it was written as: 0.1, not 0.10000000149011612.
        if case let .double(d) = v, Double(Float(d)) == d, let short = Double("\(Float(d))") { v = .double(short) }
        config.values[key(k)] = v
    }

    /// Accepts `keys` that do not apply under the current settings: each one present is a
    /// warning naming it and `reason`, never an unknown-key error (keys do not appear and vanish
    /// with other settings).
    func ignore(_ keys: [String], because reason: String) {
        for k in keys {
            used.insert(k)
            config.values[key(k)] = nil  // it does not take effect, so it is no part of the configuration
            if has(k) { warnings.add("\(file): '\(key(k))' is ignored: \(reason)") }
        }
    }

    func warn(_ message: String) { warnings.add("\(file): \(message)") }

    func key(_ k: String) -> String { prefix.isEmpty ? k : "\(prefix).\(k)" }

    var exists: Bool { table != nil }

    private func value(_ k: String) -> TOMLValueConvertible? {
        used.insert(k)
        return table?[k]
    }

    func has(_ k: String) -> Bool { table?.contains(key: k) ?? false }

    func string(_ k: String) throws(TopologyError) -> String? {
        guard let v = value(k) else { record(k, .null); return nil }
        guard let s = v.string else { throw .wrongType(file: file, key: key(k), expected: "a string") }
        record(k, .string(s))
        return s
    }

    func string(_ k: String, default d: String) throws(TopologyError) -> String {
        let s = try string(k) ?? d
        record(k, .string(s))
        return s
    }

    func requiredString(_ k: String) throws(TopologyError) -> String {
        guard let s = try string(k) else { throw .missingKey(file: file, key: key(k)) }
        return s
    }

    func int(_ k: String) throws(TopologyError) -> Int? {
        guard let v = value(k) else { record(k, .null); return nil }
        guard let i = v.int else { throw .wrongType(file: file, key: key(k), expected: "an integer") }
        record(k, .int(i))
        return i
    }

    func int(_ k: String, default d: Int, range: ClosedRange<Int>? = nil) throws(TopologyError) -> Int {
        let i = try int(k) ?? d
        record(k, .int(i))
        if let range, !range.contains(i) {
            throw .invalidValue(file: file, key: key(k), value: "\(i)", expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    func double(_ k: String) throws(TopologyError) -> Double? {
        guard let v = value(k) else { record(k, .null); return nil }
        let d: Double
        if let x = v.double { d = x } else if let i = v.int { d = Double(i) } else {
            throw .wrongType(file: file, key: key(k), expected: "a number")
        }
        record(k, .double(d))
        return d
    }

    func double(_ k: String, default d: Double, range: ClosedRange<Double>? = nil) throws(TopologyError) -> Double {
        let x = try double(k) ?? d
        record(k, .double(x))
        if !x.isFinite || (range.map { !$0.contains(x) } ?? false) {
            let expected = range.map { "a number in \($0.lowerBound)...\($0.upperBound)" } ?? "a finite number"
            throw .invalidValue(file: file, key: key(k), value: "\(x)", expected: expected)
        }
        return x
    }

    func bool(_ k: String, default d: Bool) throws(TopologyError) -> Bool {
        guard let v = value(k) else { record(k, .bool(d)); return d }
        guard let b = v.bool else { throw .wrongType(file: file, key: key(k), expected: "true or false") }
        record(k, .bool(b))
        return b
    }

    func intArray(_ k: String) throws(TopologyError) -> [Int]? {
        guard let v = value(k) else { record(k, .null); return nil }
        guard let a = v.array else { throw .wrongType(file: file, key: key(k), expected: "an array of integers") }
        var out: [Int] = []
        for e in a {
            guard let i = e.int else { throw .wrongType(file: file, key: key(k), expected: "an array of integers") }
            out.append(i)
        }
        record(k, .array(out.map { .int($0) }))
        return out
    }

    func stringArray(_ k: String) throws(TopologyError) -> [String]? {
        guard let v = value(k) else { record(k, .null); return nil }
        guard let a = v.array else { throw .wrongType(file: file, key: key(k), expected: "an array of strings") }
        var out: [String] = []
        for e in a {
            guard let s = e.string else { throw .wrongType(file: file, key: key(k), expected: "an array of strings") }
            out.append(s)
        }
        record(k, .array(out.map { .string($0) }))
        return out
    }

    func intArray(_ k: String, default d: [Int]) throws(TopologyError) -> [Int] {
        let a = try intArray(k) ?? d
        record(k, .array(a.map { .int($0) }))
        return a
    }

    func table(_ k: String) throws(TopologyError) -> TableReader {
        guard let v = value(k) else { return TableReader(nil, file: file, prefix: key(k), warnings: warnings, config: config) }
        guard let t = v.table else { throw .wrongType(file: file, key: key(k), expected: "a table [\(key(k))]") }
        return TableReader(t, file: file, prefix: key(k), warnings: warnings, config: config)
    }

    func tables(_ k: String) throws(TopologyError) -> [TableReader] {
        guard let v = value(k) else { return [] }
        guard let a = v.array else { throw .wrongType(file: file, key: key(k), expected: "an array of tables [[\(key(k))]]") }
        var out: [TableReader] = []
        for (i, e) in a.enumerated() {
            guard let t = e.table else { throw .wrongType(file: file, key: "\(key(k))[\(i)]", expected: "a table") }
            out.append(TableReader(t, file: file, prefix: "\(key(k))[\(i)]", warnings: warnings, config: config))
        }
        return out
    }

    func choice<T: RawRepresentable & CaseIterable>(_ k: String, default d: T) throws(TopologyError) -> T where T.RawValue == String {
        guard let s = try string(k) else { record(k, .string(d.rawValue)); return d }
        guard let v = T(rawValue: s) else {
            throw .invalidValue(file: file, key: key(k), value: "\"\(s)\"", expected: "one of " + T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        return v
    }

    func invalid(_ k: String, _ value: String, expected: String) -> TopologyError {
        .invalidValue(file: file, key: key(k), value: value, expected: expected)
    }

    /// Every key present must have been read; anything else is a typo or a key for another section.
    func finish() throws(TopologyError) {
        guard let table else { return }
        for k in table.keys where !used.contains(k) {
            throw .unknownKey(file: file, key: key(k), known: Array(used))
        }
    }
}

/// The resolved value of every key read, by dotted path (`merge.penalty`).
final class ConfigSink {
    var values: [String: ConfigValue] = [:]
}

/// Warnings collected while reading a topology, in the order they were found.
final class WarningSink {
    private(set) var list: [String] = []
    func add(_ message: String) { list.append(message) }
}
