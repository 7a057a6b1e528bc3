import AviaryMath
import AviaryMerge

/// Everything the server needs to continue a run after its last completed round, so that the
/// resumed run reproduces the uninterrupted one bit for bit. `RunStateStore` persists it as
/// `state.json` (small, JSON) plus one `state/*.safetensors` file per vector, each written once.
///
/// RNG streams: every random choice the server makes is a fresh `RandomStream(seed, purpose,
/// index)` (sampling is indexed by round, robust evaluation by chunk), so no stream has a
/// position to save; the seeds are recorded and `rng` says "stateless". A later stateful
/// stream would record its position in `integers` and change that tag.
public struct RunState: Sendable, Equatable {
    /// The state format this build writes and reads.
    /// 2: one file per vector, written once and named in state.json (1: one file of every vector per round).
    public static let formatVersion = 2
    /// How the server's RNG streams are derived; a state with another value is refused.
    public static let statelessRNG = "stateless: RandomStream(seed, purpose, index), nothing to save"

    /// `[run].name`.
    public var run: String
    /// The last completed round (its record is in the log, its model is `global`).
    public var round: Int
    /// `RunState.digest(topology:)` of the topology.toml the run started with.
    public var topologyDigest: String
    public var seeds: RunStartRecord.Seeds
    /// The global model after `round`.
    public var global: [Float]
    /// Spec, step count and moments m, v (the vectors are stored as tensors).
    public var optimizer: ServerOptimizer
    /// How many clients were registered when the round closed: a resumed run waits for as many
    /// before round + 1 (sampling draws from the registered set). A count, not a list, so the
    /// state of a 100,000-client run stays small and cheap to write every round.
    public var registeredCount: Int
    /// Clients that missed a deadline and are left out of sampling until heard from, ascending.
    public var unresponsive: [Int]
    /// The checkpoint-merge window, oldest first: the last K global models with round and loss.
    public var mergeWindow: [MergeWindowEntry]
    /// Extension bags, so later features (simulated clock, per-client references) need no format change.
    public var integers: [String: [Int]]
    public var numbers: [String: Double]
    public var strings: [String: [String]]
    /// The most recent global evaluation (`run_end.final_eval` when the run ends before the next one).
    public var lastEval: Evaluation?
    /// Extra named vectors of any length (e.g. per-client error-feedback residuals), stored as tensors.
    public var vectors: [String: [Float]]
    /// How much of aggregation.jsonl belongs to rounds ≤ `round` (see `LogRepair`).
    public var log: LogPosition
    /// Wall time the run has spent so far, so the resumed run's `duration_seconds` continues.
    public var elapsedSeconds: Double

    public init(run: String, round: Int, topologyDigest: String, seeds: RunStartRecord.Seeds, global: [Float],
                optimizer: ServerOptimizer, registeredCount: Int = 0, unresponsive: [Int] = [],
                mergeWindow: [MergeWindowEntry] = [], integers: [String: [Int]] = [:], numbers: [String: Double] = [:],
                strings: [String: [String]] = [:], lastEval: Evaluation? = nil, vectors: [String: [Float]] = [:],
                log: LogPosition, elapsedSeconds: Double) {
        self.run = run; self.round = round; self.topologyDigest = topologyDigest; self.seeds = seeds
        self.global = global; self.optimizer = optimizer
        self.registeredCount = registeredCount; self.unresponsive = unresponsive.sorted()
        self.mergeWindow = mergeWindow; self.integers = integers; self.numbers = numbers; self.strings = strings
        self.lastEval = lastEval; self.vectors = vectors
        self.log = log; self.elapsedSeconds = elapsedSeconds
    }

    /// A CRC-32 and length of the topology file's bytes: enough to notice an edited topology
    /// (this guards against mistakes, not against an adversary).
    public static func digest(topology bytes: [UInt8]) -> String {
        let hex = String(CRC32.checksum(bytes), radix: 16)
        return "crc32:" + String(repeating: "0", count: 8 - hex.count) + hex + ":\(bytes.count)"
    }

    /// The first problem that makes this state unusable, as (field, reason); nil when it is sound.
    /// Checked before saving and after loading. `checkValues: false` skips the scans for NaN and
    /// infinity (the store checks each vector once, when it writes or reads its file).
    public func problem(checkValues: Bool = true) -> (field: String, reason: String)? {
        let firstNonFinite: ([Float]) -> Int? = checkValues ? { NonFinite.firstIndex(in: $0) } : { _ in nil }
        let p = global.count
        if run.isEmpty { return ("run", "is empty") }
        if round < 0 { return ("round", "is \(round)") }
        if p == 0 { return ("global", "has no parameters") }
        if let i = firstNonFinite(global) { return ("global", "value \(i) is \(global[i])") }
        if !optimizer.m.isEmpty && optimizer.m.count != p {
            return ("optimizer.m", "has \(optimizer.m.count) values but the model has \(p)")
        }
        if let i = firstNonFinite(optimizer.m) { return ("optimizer.m", "value \(i) is \(optimizer.m[i])") }
        if !optimizer.v.isEmpty && optimizer.v.count != p {
            return ("optimizer.v", "has \(optimizer.v.count) values but the model has \(p)")
        }
        if let i = firstNonFinite(optimizer.v) { return ("optimizer.v", "value \(i) is \(optimizer.v[i])") }
        if optimizer.steps > round { return ("optimizer.steps", "\(optimizer.steps) steps in \(round) rounds") }
        if let bad = unresponsive.first(where: { $0 < 0 }) { return ("unresponsive", "client index \(bad)") }
        if Set(unresponsive).count != unresponsive.count { return ("unresponsive", "lists a client twice") }
        if registeredCount < 0 { return ("registered_count", "is \(registeredCount)") }
        var previous = Int.min
        for (i, e) in mergeWindow.enumerated() {
            let field = "merge_window[\(i)]"
            if e.round <= previous || e.round > round { return (field, "round \(e.round) is out of order or after round \(round)") }
            if e.parameters.count != p { return (field, "has \(e.parameters.count) values but the model has \(p)") }
            if let j = firstNonFinite(e.parameters) { return (field, "value \(j) is \(e.parameters[j])") }
            previous = e.round
        }
        for (name, values) in vectors {
            if name.isEmpty || name.contains("/") { return ("vectors", "name '\(name)' is empty or has a '/'") }
            if let j = firstNonFinite(values) { return ("vectors.\(name)", "value \(j) is \(values[j])") }
        }
        if log.bytes < 0 || log.records < 0 { return ("log", "negative position \(log)") }
        if !elapsedSeconds.isFinite || elapsedSeconds < 0 { return ("elapsed_seconds", "is \(elapsedSeconds)") }
        return nil
    }
}

/// One global model of the checkpoint-merge window.
public struct MergeWindowEntry: Sendable, Equatable {
    public var round: Int
    /// The metric it is weighted by (validation loss, else test loss); may be non-finite.
    public var loss: Double
    public var parameters: [Float]
    public init(round: Int, loss: Double, parameters: [Float]) {
        self.round = round; self.loss = loss; self.parameters = parameters
    }
}

/// A prefix of aggregation.jsonl: its number of records (lines) and bytes.
public struct LogPosition: Codable, Sendable, Equatable, CustomStringConvertible {
    public var records: Int
    public var bytes: Int
    public init(records: Int, bytes: Int) { self.records = records; self.bytes = bytes }
    public var description: String { "\(records) records, \(bytes) bytes" }
}
