import Foundation
import AviaryLog

/// The runs of a sweep (`aviary sweep FILE --grid key=v1,v2 … --seeds 1,2,3`): the cartesian
/// product of the grid axes (first axis slowest) and the seeds (fastest), each run named from its
/// settings (`penalty=0.5,metric=adv_loss,seed=2`). Pure: planning and validation take the
/// topology's text, never a file.
public struct SweepPlan: Sendable {
    /// One `--grid key=v1,v2,…`: the values as written (TOML, or plain strings like `--set`).
    public struct Axis: Sendable, Hashable {
        public var key: String
        public var values: [String]
        public init(key: String, values: [String]) { self.key = key; self.values = values }
    }

    public struct Run: Sendable {
        /// The run's directory name under the sweep directory.
        public var name: String
        /// (key, value as written) per axis, in axis order.
        public var points: [(key: String, value: String)]
        /// The `--seeds` entry this run uses (`seeds.base`), nil without `--seeds`.
        public var seed: Int?
        /// The `--set` overrides this run adds to the sweep's own: its grid values, then `seeds.base`.
        public var overrides: [String] {
            points.map { "\($0.key)=\($0.value)" } + (seed.map { ["seeds.base=\($0)"] } ?? [])
        }
    }

    public var axes: [Axis]
    public var seeds: [Int]?
    public var runs: [Run]

    /// Keys a grid may not vary: the sweep names and places each run itself.
    static let reservedKeys: Set<String> = ["run.name", "run.output"]

    public init(axes: [Axis], seeds: [Int]?) throws(SweepPlanError) {
        guard !axes.isEmpty || seeds != nil else { throw .nothingToSweep }
        var seen: Set<String> = []
        for a in axes {
            guard !Self.reservedKeys.contains(a.key) else { throw .reservedKey(key: a.key) }
            guard seen.insert(a.key).inserted else { throw .duplicateKey(key: a.key) }
            if a.key == "seeds.base" && seeds != nil { throw .duplicateKey(key: "seeds.base (from --seeds)") }
            var values: Set<String> = []
            for v in a.values where !values.insert(v).inserted { throw .duplicateValue(key: a.key, value: v) }
        }
        if let seeds {
            guard !seeds.isEmpty else { throw .badSeeds(text: "", reason: "no seeds listed") }
            var distinct: Set<Int> = []
            for s in seeds where !distinct.insert(s).inserted { throw .badSeeds(text: "\(s)", reason: "listed twice") }
        }
        self.axes = axes
        self.seeds = seeds
        let labels = Self.labels(axes.map(\.key))
        var points: [[(key: String, value: String)]] = [[]]
        for a in axes {
            points = points.flatMap { prefix in a.values.map { prefix + [(key: a.key, value: $0)] } }
        }
        var runs: [Run] = []
        var names: [String: String] = [:]
        for p in points {
            for seed in seeds.map({ $0.map(Optional.some) }) ?? [nil] {
                let parts = zip(labels, p).map { "\($0)=\(Self.safe($1.value))" } + (seed.map { ["seed=\($0)"] } ?? [])
                let name = parts.joined(separator: ",")
                let described = (p.map { "\($0.key)=\($0.value)" } + (seed.map { ["seed \($0)"] } ?? [])).joined(separator: " ")
                if let other = names[name] { throw .nameCollision(name: name, first: other, second: described) }
                guard name.utf8.count <= 200 else { throw .nameTooLong(name: name) }
                names[name] = described
                runs.append(Run(name: name, points: p, seed: seed))
            }
        }
        self.runs = runs
    }

    /// `key=v1,v2,…`; commas inside brackets or quotes belong to the value (`model.hidden=[64,64],[32]`).
    public static func axis(_ argument: String) throws(SweepPlanError) -> Axis {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            throw .badGrid(argument: argument, reason: "expected key.path=v1,v2,…, e.g. merge.penalty=0,0.5,1")
        }
        let key = String(argument[..<eq])
        guard !key.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw .badGrid(argument: argument, reason: "the key path '\(key)' has an empty part")
        }
        var values: [String] = []
        var current = ""
        var depth = 0
        var quote: Character? = nil
        for c in argument[argument.index(after: eq)...] {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
            } else if c == "," && depth == 0 {
                values.append(current)
                current = ""
                continue
            }
            current.append(c)
        }
        values.append(current)
        let trimmed = values.map { $0.trimmingCharacters(in: .whitespaces) }
        guard !trimmed.contains(where: { $0.isEmpty }) else {
            throw .badGrid(argument: argument, reason: "an empty value (values are separated by commas)")
        }
        return Axis(key: key, values: trimmed)
    }

    /// `1,2,3` or ranges `1-3`, non-negative.
    public static func seeds(_ text: String) throws(SweepPlanError) -> [Int] {
        var out: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo >= 0, lo <= hi else {
                throw .badSeeds(text: text, reason: "'\(part)' is not a seed (a non-negative integer) or a range a-b")
            }
            out += Array(lo...hi)
        }
        return out
    }

    /// Name labels: the last key component (`penalty`), or the whole key where two axes share it.
    static func labels(_ keys: [String]) -> [String] {
        let last = keys.map { String($0.split(separator: ".").last ?? Substring($0)) }
        return zip(keys, last).map { key, l in last.filter { $0 == l }.count > 1 || l == "seed" ? key : l }
    }

    /// A value as a file-name part: letters, digits, `.`, `_`, `-` kept, brackets and quotes
    /// dropped, anything else (`,`, spaces, `+`) a `-`.
    static func safe(_ value: String) -> String {
        var out = ""
        for c in value {
            if c.isASCII && (c.isLetter || c.isNumber || "._-".contains(c)) { out.append(c) }
            else if "[]{}\"'".contains(c) { continue }
            else { out.append("-") }
        }
        return out.isEmpty ? "-" : out
    }

    /// Every run's topology: `text` with the sweep's `overrides`, the run's own and `run.output`
    /// set to `output` applied, parsed and validated like `aviary run --set`. Refuses, before
    /// anything runs, a grid point the topology refuses (naming the run and the key) and a grid
    /// key that does not take effect under the run's other settings (it would vary nothing).
    public func topologies(text: String, file: String, overrides: [String], output: String) throws(SweepPlanError) -> [Topology] {
        var out: [Topology] = []
        for run in runs {
            let all = self.overrides(for: run, base: overrides, output: output)
            let topology: Topology
            do {
                topology = try Topology.parse(try Topology.applying(all, to: text, file: file), file: file + " with " + run.name)
            } catch {
                throw .invalidRun(run: run.name, error: error)
            }
            for a in axes where topology.config[a.key] == nil {
                let why = topology.warnings.first { $0.contains("'\(a.key)'") } ?? "no such key takes effect in this topology"
                throw .notApplicable(key: a.key, run: run.name, reason: why)
            }
            out.append(topology)
        }
        return out
    }

    /// Everything `aviary-server` is given with `--set` for `run`: the sweep's own overrides, the
    /// run's grid values and seed, and `run.output` = the sweep directory.
    public func overrides(for run: Run, base: [String], output: String) -> [String] {
        base + run.overrides + ["run.output=" + Self.tomlString(output)]
    }

    /// The run's settings as recorded in the sweep index: each grid key's resolved value.
    public static func settings(of run: Run, in topology: Topology) -> [String: ConfigValue] {
        var s: [String: ConfigValue] = [:]
        for p in run.points { s[p.key] = topology.config[p.key] ?? .string(p.value) }
        return s
    }

    /// A TOML basic string: a path is never read as a number or a boolean.
    static func tomlString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Why a sweep cannot be planned; each case names the argument, key or run.
public enum SweepPlanError: Error, CustomStringConvertible {
    case nothingToSweep
    case badGrid(argument: String, reason: String)
    case badSeeds(text: String, reason: String)
    case reservedKey(key: String)
    case duplicateKey(key: String)
    case duplicateValue(key: String, value: String)
    case nameCollision(name: String, first: String, second: String)
    case nameTooLong(name: String)
    case invalidRun(run: String, error: TopologyError)
    case notApplicable(key: String, run: String, reason: String)

    public var description: String {
        switch self {
        case .nothingToSweep:
            "nothing to sweep: give at least one --grid key=v1,v2 or --seeds 1,2,3"
        case let .badGrid(argument, reason):
            "--grid \(argument): \(reason)"
        case let .badSeeds(text, reason):
            "--seeds \(text): \(reason)"
        case let .reservedKey(key):
            "--grid \(key): the sweep names and places each run itself; use --name for the sweep's directory"
        case let .duplicateKey(key):
            "--grid \(key) is given twice"
        case let .duplicateValue(key, value):
            "--grid \(key) lists \(value) twice"
        case let .nameCollision(name, first, second):
            "two runs would share the directory name \(name) (\(first); \(second)); write the values so they differ in letters, digits, '.', '_' or '-'"
        case let .nameTooLong(name):
            "the run name \(name) is too long for a directory name; shorten the grid values"
        case let .invalidRun(run, error):
            "run \(run): \(error)"
        case let .notApplicable(key, run, reason):
            "--grid \(key) does not take effect in run \(run), so it would vary nothing: \(reason)"
        }
    }
}
