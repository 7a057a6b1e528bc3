import Foundation

/// `runs/<sweep>/sweep.json`: what a sweep ran and how each run ended, rewritten atomically
/// whenever a run starts or finishes, so readers (and an interrupted sweep) always see a whole
/// file. docs/LOG.md describes the format.
public struct SweepIndex: Codable, Sendable, Equatable {
    public var format = "aviary-sweep"
    public var version = 1
    /// The sweep's name: its directory under the topology's `[run].output`.
    public var sweep: String
    /// The topology file, as given on the command line.
    public var topology: String
    /// The sweep directory (`runs/<sweep>`).
    public var directory: String
    /// `--set` overrides every run shares, in order.
    public var overrides: [String]
    /// The `--grid` axes in order; values as written.
    public var grid: [Axis]
    /// `--seeds` (each one a run's `seeds.base`), nil when the sweep has none.
    public var seeds: [Int]?
    public var parallel: Int
    /// When the file was last written.
    public var updated: String
    /// One per run, in plan order (first grid axis slowest, seeds fastest).
    public var runs: [Run]

    public struct Axis: Codable, Sendable, Equatable {
        public var key: String
        public var values: [String]
        public init(key: String, values: [String]) { self.key = key; self.values = values }
    }

    public struct Run: Codable, Sendable, Equatable {
        /// Directory name under the sweep directory, e.g. `penalty=0.5,metric=adv_loss,seed=2`.
        public var name: String
        /// The run directory (`runs/<sweep>/<name>`).
        public var directory: String
        /// Each grid key's resolved value in this run (the value `run_start.config` records).
        public var settings: [String: ConfigValue]
        /// This run's `seeds.base`, nil without `--seeds`.
        public var seed: Int?
        /// `pending`, `running`, `completed`, `failed` or `interrupted`.
        public var status: String
        /// Wall time of the run's launch, nil until it ends; for a run completed by an earlier
        /// invocation, the time that invocation recorded (or the log's `run_end.duration_seconds`).
        public var wallSeconds: Double?
        /// Why a failed or interrupted run did not complete.
        public var error: String?
        public init(name: String, directory: String, settings: [String: ConfigValue], seed: Int?, status: String,
                    wallSeconds: Double? = nil, error: String? = nil) {
            self.name = name; self.directory = directory; self.settings = settings; self.seed = seed
            self.status = status; self.wallSeconds = wallSeconds; self.error = error
        }
    }

    public init(sweep: String, topology: String, directory: String, overrides: [String], grid: [Axis], seeds: [Int]?,
                parallel: Int, updated: String, runs: [Run]) {
        self.sweep = sweep; self.topology = topology; self.directory = directory; self.overrides = overrides
        self.grid = grid; self.seeds = seeds; self.parallel = parallel; self.updated = updated; self.runs = runs
    }

    public static let fileName = "sweep.json"

    public static func read(path: String) throws(RunFileError) -> SweepIndex {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotOpen(path: path, reason: "no such file")
        }
        do {
            let index = try LogCoding.decoder().decode(SweepIndex.self, from: data)
            guard index.format == "aviary-sweep", index.version == 1 else {
                throw RunFileError.mismatch(path: path, reason: "not an aviary-sweep version 1 index")
            }
            return index
        } catch let e as RunFileError {
            throw e
        } catch {
            throw .badLine(path: path, line: 1, reason: "not a sweep index: \(error)")
        }
    }

    /// Pretty-printed, keys sorted and snake_case, written atomically.
    public func write(to path: String) throws(RunFileError) {
        let encoder = LogCoding.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        let data: Data
        do { data = try encoder.encode(self) } catch { throw .cannotWrite(path: path, reason: "\(error)") }
        try AtomicFile.write(data + Data("\n".utf8), to: path)
    }
}
