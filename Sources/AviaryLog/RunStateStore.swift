#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import AviaryMath
import AviaryMerge

/// Saves and loads `RunState` in a run directory (format version 2):
///
///     state.json                       a symbolic link to state/index-rNNNN.json, the small JSON
///                                      index (fields below), switched atomically
///     state/rNNNN-<vector>.safetensors one file per vector (global, optimizer.m, optimizer.v,
///                                      merge_window.<i>, extra.<name>), written once
///     state/durable.json               a copy of the last state.json that was fsynced
///
/// A vector is written to its own file the first time it is saved; a later save whose vector is
/// the same array (the same storage, so nothing wrote to it since) or has the same bytes names
/// the file again instead of rewriting it. So a save costs what changed since the last one: for
/// FedBuff the new global model and the newly held-back deltas, not every held delta again.
///
/// Order of a save: new vector files (temp file, rename), then a new index naming every file with
/// its size and CRC-32, then state.json is switched to it (a new link renamed over the old), then
/// the files neither state.json nor state/durable.json names are deleted, and the old index. A crash (kill -9) at any point leaves state.json naming
/// complete files, of this save or the one before.
///
/// Durability: `save(_:durable: true)` also fsyncs every file the state names (those not fsynced
/// yet), the state/ directory, state.json and the run directory, and copies state.json to
/// state/durable.json (fsynced); a save with `durable: false` fsyncs nothing. A kill -9 loses
/// nothing either way (the kernel keeps what was written); a power loss or kernel crash can lose
/// the saves since the last durable one, and `load` then falls back to state/durable.json.
/// The first save of a store is always durable.
///
/// One store per run directory, used from one thread (the server's loop).
public final class RunStateStore: @unchecked Sendable {
    public let directory: RunDirectory
    /// Set by `load` when state.json could not be used and state/durable.json was: what failed.
    public private(set) var recovered: String?

    /// A vector file the current state.json names, with the array it was written from (holding
    /// it keeps its storage alive, so a later array with the same storage has the same values:
    /// any write to either would have copied it).
    private struct Entry {
        var values: [Float]
        var file: VectorFile
        var synced: Bool
    }
    private var entries: [String: Entry] = [:]
    /// Files state/durable.json names: kept until the next durable save.
    private var durableFiles: Set<String> {
        get { durability.withLock { $0.durable } }
        set { durability.withLock { $0.durable = newValue } }
    }
    /// What state/durable.json names, and the files of durable saves still being fsynced in the
    /// background (kept until their job is done), and the first error such a job met.
    private let durability = Mutex<(durable: Set<String>, pending: [Int: Set<String>], error: RunStateError?)>(([], [:], nil))
    /// Durable saves' fsyncs run here, in order, when `backgroundDurability` is set.
    private let durabilityQueue = DispatchQueue(label: "aviary.run-state.durability")
    private let durabilityJobs = DispatchGroup()
    private var nextJob = 0
    /// A durable save writes everything, switches state.json and returns; the fsyncs (its files,
    /// state/ and the run directory) and state/durable.json follow on a background
    /// queue, in order. The disk works while the caller goes on; nothing waits for it there
    /// but `waitForDurability`. What a kill -9 keeps is the same either way (no fsync needed);
    /// a power loss can lose a durable save whose job had not finished, falling back to the one
    /// before (docs/LOG.md, "Durability"). False: fsynced inline (tests, tools).
    public var backgroundDurability = false
    /// The index file state.json links to (`state/index-rNNNN.json`), once saved or loaded.
    private var currentIndex: String?
    /// False until this store has saved once: its first save is durable.
    private var savedOnce = false

    public init(directory: RunDirectory) { self.directory = directory }

    /// The `format` metadata of every vector file.
    static let vectorsFormat = "aviary-run-state-v\(RunState.formatVersion)"
    /// The one tensor of a vector file.
    static let tensorName = "values"
    /// state/durable.json.
    public var durableState: String { directory.stateDirectory + "/durable.json" }

    /// True when the run directory has a state to resume from.
    public var exists: Bool { FileManager.default.fileExists(atPath: directory.state) || isLink(directory.state) }

    private func isLink(_ path: String) -> Bool { (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil }

    /// What the last save wrote: new vector files and their bytes (tests and timing).
    public private(set) var lastSave = (files: 0, bytes: 0, reused: 0)

    public func save(_ state: RunState, durable: Bool = true) throws(RunStateError) {
        if let (field, reason) = state.problem(checkValues: false) {
            throw .inconsistent(path: directory.state, field: field, reason: reason + " (refusing to save it)")
        }
        let durable = durable || !savedOnce
        let p = state.global.count
        var vectors: [(tensor: String, field: String, values: [Float])] = [
            ("global", "global", state.global),
            ("optimizer.m", "optimizer.m", state.optimizer.m),
            ("optimizer.v", "optimizer.v", state.optimizer.v),
        ]
        for (i, e) in state.mergeWindow.enumerated() { vectors.append(("merge_window.\(i)", "merge_window[\(i)]", e.parameters)) }
        for name in state.vectors.keys.sorted() { vectors.append(("extra." + name, "vectors.\(name)", state.vectors[name]!)) }

        // Which vectors are already in a file: the same storage first, else the same bytes under the same name.
        var next: [String: Entry] = [:]
        var toWrite: [(tensor: String, values: [Float])] = []
        var reused = 0
        for v in vectors {
            if let found = Self.sameStorage(v.values, in: entries) ?? entries[v.tensor].flatMap({ Self.equal($0.values, v.values) ? $0 : nil }) {
                next[v.tensor] = Entry(values: v.values, file: found.file, synced: found.synced)
                reused += 1
            } else {
                if let i = NonFinite.firstIndex(in: v.values) {
                    throw .inconsistent(path: directory.state, field: v.field, reason: "value \(i) is \(v.values[i]) (refusing to save it)")
                }
                toWrite.append((v.tensor, v.values))
            }
        }
        var bytesWritten = 0
        do {
            try FileManager.default.createDirectory(atPath: directory.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory.stateDirectory, reason: "\(error)")
        }
        let taken = Set(entries.values.map(\.file.file)).union(keptFiles)
        for w in toWrite {
            var relative = "state/" + String(format: "r%04d-", state.round) + w.tensor + ".safetensors"
            var n = 2
            while taken.contains(relative) || next.values.contains(where: { $0.file.file == relative })
                    || FileManager.default.fileExists(atPath: directory.path + "/" + relative) {
                relative = "state/" + String(format: "r%04d-", state.round) + w.tensor + "-\(n).safetensors"
                n += 1
            }
            let path = directory.path + "/" + relative
            let written: (bytes: Int, crc32: UInt32)
            do {
                // In the background the file is fsynced with the others below, off this thread.
                written = try Safetensors.write(arrays: [(Self.tensorName, [w.values.count], w.values)], metadata: [
                    "format": Self.vectorsFormat, "run": state.run, "round": String(state.round),
                ], to: path, sync: durable && !backgroundDurability)
            } catch {
                throw .cannotWrite(path: path, reason: "\(error)")
            }
            bytesWritten += written.bytes
            next[w.tensor] = Entry(values: w.values, file: VectorFile(file: relative, bytes: written.bytes,
                                                                       crc32: CRC32.hex(written.crc32), count: w.values.count),
                                   synced: durable && !backgroundDurability)
        }
        if let failed = durability.withLock({ $0.error }) { throw failed }
        let background = durable && backgroundDurability
        var toSync: [String] = []
        if durable {
            // Files written earlier without fsync, now named by a state that must survive a power loss.
            for (name, e) in next where !e.synced {
                let path = directory.path + "/" + e.file.file
                if background {
                    toSync.append(path)  // by the job below, before state/durable.json names it
                } else {
                    do { try SafetensorsFileIO.sync(path: path) } catch { throw .cannotWrite(path: path, reason: "\(error)") }
                }
                next[name]!.synced = true
            }
        }
        let document = StateDocument(
            version: RunState.formatVersion, run: state.run, round: state.round, time: Self.timestamp(),
            topologyDigest: state.topologyDigest, seeds: state.seeds, rng: RunState.statelessRNG, parameters: p,
            vectors: next.mapValues(\.file),
            optimizer: .init(spec: state.optimizer.spec, steps: state.optimizer.steps,
                             m: state.optimizer.m.count, v: state.optimizer.v.count),
            sampling: .init(registeredCount: state.registeredCount, unresponsive: state.unresponsive),
            mergeWindow: state.mergeWindow.map { .init(round: $0.round, loss: $0.loss) }, lastEval: state.lastEval,
            integers: state.integers, numbers: state.numbers, strings: state.strings,
            extraVectors: state.vectors.mapValues(\.count),
            log: state.log, elapsedSeconds: state.elapsedSeconds)
        let json: Data
        do {
            let encoder = LogCoding.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            var data = try encoder.encode(document)
            data.append(0x0A)
            json = data
        } catch {
            throw .cannotWrite(path: directory.state, reason: "\(error)")
        }
        // The index goes to a new file, and state.json, a symbolic link, is switched to it by
        // rename: replacing a regular file by rename makes ext4 (auto_da_alloc) flush the new
        // file's data in the rename, 5-13 ms here under load; replacing a link does not.
        var index = "state/" + String(format: "index-r%04d", state.round) + ".json"
        var n = 2
        while index == currentIndex || FileManager.default.fileExists(atPath: directory.path + "/" + index) {
            index = "state/" + String(format: "index-r%04d", state.round) + "-\(n).json"
            n += 1
        }
        do { try AtomicFile.write(json, to: directory.path + "/" + index, sync: durable && !background) } catch {
            throw .cannotWrite(path: directory.path + "/" + index, reason: "\(error)")
        }
        let link = directory.state + ".tmp-\(getpid())"
        unlink(link)
        guard symlink(index, link) == 0, rename(link, directory.state) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(link)
            throw .cannotWrite(path: directory.state, reason: "cannot point it at \(index): \(reason)")
        }
        if durable && !background { SafetensorsFileIO.syncDirectory(directory.path) }
        currentIndex = index
        FaultInjection.crashPoint("state-saved")
        if background {
            let files = Set(next.values.map(\.file.file)), job = nextJob
            nextJob += 1
            durability.withLock { $0.pending[job] = files }
            let (stateDirectory, runDirectory, durablePath) = (directory.stateDirectory, directory.path, durableState)
            durabilityQueue.async(group: durabilityJobs) { [self, toSync] in
                do {
                    // Not the index: a later save may delete it; state/durable.json is its copy.
                    for path in toSync {
                        do { try SafetensorsFileIO.sync(path: path) } catch { throw RunStateError.cannotWrite(path: path, reason: "\(error)") }
                    }
                    SafetensorsFileIO.syncDirectory(stateDirectory)
                    SafetensorsFileIO.syncDirectory(runDirectory)
                    do { try AtomicFile.write(json, to: durablePath, sync: true) } catch {
                        throw RunStateError.cannotWrite(path: durablePath, reason: "\(error)")
                    }
                    durability.withLock { $0.durable = files; $0.pending[job] = nil }
                } catch {
                    // The files stay (pending): durable.json may name some of them or not.
                    durability.withLock { if $0.error == nil { $0.error = error as? RunStateError } }
                }
            }
        } else if durable {
            do { try AtomicFile.write(json, to: durableState, sync: true) } catch {
                throw .cannotWrite(path: durableState, reason: "\(error)")
            }
            durableFiles = Set(next.values.map(\.file.file))
        }
        entries = next
        savedOnce = true
        lastSave = (toWrite.count, bytesWritten, reused)
        // Only now are the new files the ones state.json names; the others are garbage.
        removeUnreferenced()
    }

    /// Files kept besides state.json's: those state/durable.json names and those of durable
    /// saves still being fsynced in the background.
    private var keptFiles: Set<String> {
        durability.withLock { d in d.pending.values.reduce(d.durable) { $0.union($1) } }
    }

    /// Waits until every background durable save is on disk (state/durable.json written);
    /// throws the first error one of them met.
    public func waitForDurability() throws(RunStateError) {
        durabilityJobs.wait()
        if let failed = durability.withLock({ $0.error }) { throw failed }
    }

    /// Deletes the vector files in state/ that neither state.json nor state/durable.json names
    /// (superseded ones, and those of an interrupted save). Returns their names.
    @discardableResult
    public func removeUnreferenced() -> [String] {
        let keep = Set(entries.values.map(\.file.file)).union(keptFiles)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.stateDirectory)) ?? []
        var removed: [String] = []
        let stale = { (name: String) in
            name.hasSuffix(".safetensors") ? !keep.contains("state/" + name)
                : name.hasPrefix("index-") && name.hasSuffix(".json") && "state/" + name != self.currentIndex
        }
        for name in names.sorted() where stale(name) {
            if (try? FileManager.default.removeItem(atPath: directory.stateDirectory + "/" + name)) != nil { removed.append(name) }
        }
        return removed
    }

    /// Reads and validates the state. With `topology` (the bytes of the topology.toml about to
    /// be resumed), also refuses a topology that differs from the one the run started with.
    /// When state.json or a file it names is damaged or missing (a power loss between durable
    /// saves) and state/durable.json is sound, returns that instead and says why in `recovered`.
    public func load(topology: [UInt8]? = nil) throws(RunStateError) -> RunState {
        recovered = nil
        let path = directory.state
        guard exists else { throw .missing(path: path) }
        currentIndex = try? FileManager.default.destinationOfSymbolicLink(atPath: path)
        do {
            let (state, entries) = try load(index: path, topology: topology)
            self.entries = entries
            // What durable.json names is kept until this store's first save (always durable).
            if let data = FileManager.default.contents(atPath: durableState),
               let doc = try? LogCoding.decoder().decode(StateDocument.self, from: data) {
                durableFiles = Set(doc.vectors.values.map(\.file))
            }
            return state
        } catch {
            // Only what a power loss leaves (a torn state.json, a file missing, short or with
            // another CRC) falls back; an edited, inconsistent state is refused as it is.
            switch error {
            case .malformed, .vectorsCorrupt: break
            default: throw error
            }
            guard FileManager.default.fileExists(atPath: durableState),
                  FileManager.default.contents(atPath: durableState) != FileManager.default.contents(atPath: path),
                  let (state, entries) = try? load(index: durableState, topology: topology) else { throw error }
            self.entries = entries
            durableFiles = Set(entries.values.map(\.file.file))
            recovered = "\(error); resumed from \(durableState) (round \(state.round), the last state fsynced)"
            return state
        }
    }

    private func load(index path: String, topology: [UInt8]?) throws(RunStateError) -> (RunState, [String: Entry]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            if !FileManager.default.fileExists(atPath: path), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                throw .malformed(path: path, reason: "it links to \(target), which is missing")
            }
            throw .unreadable(path: path, reason: "permission denied?")
        }
        // The version first: an older state.json has other fields, and the error must say why it is refused.
        if let probe = try? LogCoding.decoder().decode(VersionProbe.self, from: data), probe.format == StateDocument.formatName,
           let version = probe.version, version != RunState.formatVersion {
            throw .unsupportedVersion(path: path, found: version, supported: RunState.formatVersion)
        }
        let doc: StateDocument
        do { doc = try LogCoding.decoder().decode(StateDocument.self, from: data) } catch {
            throw .malformed(path: path, reason: LogCoding.explain(error))
        }
        guard doc.format == StateDocument.formatName else {
            throw .malformed(path: path, reason: "format is '\(doc.format)', expected '\(StateDocument.formatName)'")
        }
        guard doc.version == RunState.formatVersion else {
            throw .unsupportedVersion(path: path, found: doc.version, supported: RunState.formatVersion)
        }
        guard doc.rng == RunState.statelessRNG else {
            throw .inconsistent(path: path, field: "rng", reason: "is '\(doc.rng)'; this build only has stateless streams")
        }
        if let topology {
            let current = RunState.digest(topology: topology)
            guard current == doc.topologyDigest else {
                throw .topologyChanged(path: path, saved: doc.topologyDigest, current: current)
            }
        }
        let p = doc.parameters
        var expected: [String: Int] = ["global": p, "optimizer.m": doc.optimizer.m, "optimizer.v": doc.optimizer.v]
        for i in doc.mergeWindow.indices { expected["merge_window.\(i)"] = p }
        for (name, count) in doc.extraVectors { expected["extra." + name] = count }
        if let stray = doc.vectors.keys.sorted().first(where: { expected[$0] == nil }) {
            throw .inconsistent(path: path, field: "vectors.\(stray)", reason: "is not a vector of this state")
        }
        var entries: [String: Entry] = [:]
        var cache: [String: [Float]] = [:]  // one read per file, however many names share it
        func tensor(_ name: String) throws(RunStateError) -> [Float] {
            guard let file = doc.vectors[name] else {
                throw .inconsistent(path: path, field: "vectors.\(name)", reason: "is missing")
            }
            let count = expected[name]!
            let values: [Float]
            if let v = cache[file.file] { values = v } else { values = try readVector(file, run: doc.run, round: doc.round, index: path) }
            cache[file.file] = values
            guard values.count == count else {
                throw .badTensor(path: directory.path + "/" + file.file, tensor: Self.tensorName,
                                 reason: "has \(values.count) values, \(name) needs \(count)")
            }
            entries[name] = Entry(values: values, file: file, synced: false)
            return values
        }
        let global = try tensor("global")
        let m = try tensor("optimizer.m")
        let v = try tensor("optimizer.v")
        var window: [MergeWindowEntry] = []
        for (i, e) in doc.mergeWindow.enumerated() {
            window.append(MergeWindowEntry(round: e.round, loss: e.loss, parameters: try tensor("merge_window.\(i)")))
        }
        var extra: [String: [Float]] = [:]
        for name in doc.extraVectors.keys.sorted() { extra[name] = try tensor("extra." + name) }
        let optimizer: ServerOptimizer
        do { optimizer = try ServerOptimizer(spec: doc.optimizer.spec, m: m, v: v, steps: doc.optimizer.steps) } catch {
            throw .inconsistent(path: path, field: "optimizer", reason: "\(error)")
        }
        let state = RunState(
            run: doc.run, round: doc.round, topologyDigest: doc.topologyDigest, seeds: doc.seeds, global: global,
            optimizer: optimizer, registeredCount: doc.sampling.registeredCount, unresponsive: doc.sampling.unresponsive,
            mergeWindow: window, integers: doc.integers, numbers: doc.numbers, strings: doc.strings, lastEval: doc.lastEval,
            vectors: extra, log: doc.log, elapsedSeconds: doc.elapsedSeconds)
        if let (field, reason) = state.problem(checkValues: false) { throw .inconsistent(path: path, field: field, reason: reason) }
        return (state, entries)
    }

    /// One vector file: its name (inside state/), size, CRC-32, metadata, tensor and values.
    private func readVector(_ entry: VectorFile, run: String, round: Int, index: String) throws(RunStateError) -> [Float] {
        // The name must stay inside state/: an edited state.json cannot point elsewhere.
        let name = entry.file.dropFirst("state/".count)
        guard entry.file.hasPrefix("state/"), !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), name.hasSuffix(".safetensors") else {
            throw .inconsistent(path: index, field: "vectors", reason: "names '\(entry.file)', not a file in state/")
        }
        let path = directory.path + "/" + entry.file
        guard FileManager.default.fileExists(atPath: path) else {
            throw .vectorsCorrupt(path: path, reason: "the file is missing")
        }
        let bytes: [UInt8]
        do { bytes = try SafetensorsFileIO.readAll(path: path) } catch { throw .unreadable(path: path, reason: "\(error)") }
        guard bytes.count == entry.bytes else {
            throw .vectorsCorrupt(path: path, reason: "it has \(bytes.count) bytes, \(index) recorded \(entry.bytes)")
        }
        let crc = CRC32.hex(CRC32.checksum(bytes))
        guard crc == entry.crc32 else {
            throw .vectorsCorrupt(path: path, reason: "CRC-32 is \(crc), \(index) recorded \(entry.crc32)")
        }
        let file: SafetensorsFile
        do { file = try Safetensors.parse(bytes, path: path) } catch { throw .vectorsCorrupt(path: path, reason: "\(error)") }
        // The file records its format, run and the round that wrote it, under the CRC.
        if file.metadata["format"] != Self.vectorsFormat || file.metadata["run"] != run {
            throw .inconsistent(path: path, field: "metadata", reason: "format '\(file.metadata["format"] ?? "absent")', run '\(file.metadata["run"] ?? "absent")'; "
                                + "expected '\(Self.vectorsFormat)', '\(run)'")
        }
        guard let written = file.metadata["round"].flatMap(Int.init), written <= round else {
            throw .inconsistent(path: path, field: "metadata.round", reason: "is '\(file.metadata["round"] ?? "absent")', after the state's round \(round)")
        }
        if let stray = file.tensors.map(\.name).first(where: { $0 != Self.tensorName }) {
            throw .badTensor(path: path, tensor: stray, reason: "is not expected (a vector file holds one tensor, '\(Self.tensorName)')")
        }
        guard let t = file.tensor(named: Self.tensorName) else { throw .badTensor(path: path, tensor: Self.tensorName, reason: "is missing") }
        guard t.dtype == "F32", t.shape == [entry.count] else {
            throw .badTensor(path: path, tensor: Self.tensorName, reason: "is \(t.dtype) \(t.shape), expected F32 [\(entry.count)]")
        }
        let values: [Float]
        do { values = try file.values(named: Self.tensorName) } catch { throw .badTensor(path: path, tensor: Self.tensorName, reason: "\(error)") }
        if let i = NonFinite.firstIndex(in: values) {
            throw .badTensor(path: path, tensor: Self.tensorName, reason: "value \(i) is \(values[i]), not finite")
        }
        return values
    }

    private static func sameStorage(_ values: [Float], in entries: [String: Entry]) -> Entry? {
        let mine = values.withUnsafeBufferPointer { $0.baseAddress }
        guard let mine, !values.isEmpty else { return nil }
        return entries.values.first { e in e.values.count == values.count && e.values.withUnsafeBufferPointer { $0.baseAddress } == mine }
    }

    private static func equal(_ a: [Float], _ b: [Float]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    static func timestamp() -> String { LogTimestamp.now() }
}

/// One vector's file as state.json records it: path relative to the run directory, size,
/// CRC-32 (hex) and number of values.
struct VectorFile: Codable, Equatable {
    var file: String
    var bytes: Int
    var crc32: String
    var count: Int
}

/// The two fields every version of state.json has.
struct VersionProbe: Decodable {
    var format: String?
    var version: Int?
}

/// state.json as written; docs/LOG.md documents each field.
struct StateDocument: Codable {
    static let formatName = "aviary-run-state"
    var format = formatName
    var version: Int
    var run: String
    var round: Int
    var time: String
    var topologyDigest: String
    var seeds: RunStartRecord.Seeds
    var rng: String
    var parameters: Int
    /// Tensor name → its file.
    var vectors: [String: VectorFile]
    var optimizer: Optimizer
    var sampling: Sampling
    var mergeWindow: [WindowEntry]
    var lastEval: Evaluation?
    var integers: [String: [Int]]
    var numbers: [String: Double]
    var strings: [String: [String]]
    var extraVectors: [String: Int]
    var log: LogPosition
    var elapsedSeconds: Double

    struct Optimizer: Codable { var spec: ServerOptimizerSpec; var steps: Int; var m: Int; var v: Int }
    struct Sampling: Codable { var registeredCount: Int; var unresponsive: [Int] }
    struct WindowEntry: Codable { var round: Int; var loss: Double }
}
