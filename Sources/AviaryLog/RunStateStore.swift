import Foundation
import AviaryMath
import AviaryMerge

/// Saves and loads `RunState` in a run directory:
///
///     state.json                    small JSON (fields below), replaced atomically
///     state/round-NNNN.safetensors  global, optimizer.m, optimizer.v, merge_window.<i>, extra.<name>
///
/// `save` writes the vectors file first (atomically, fsynced), then state.json pointing at it
/// with its size and CRC-32, then deletes older vectors files. A crash at any point leaves
/// state.json naming a complete vectors file: the previous round's or this one's.
public struct RunStateStore: Sendable {
    public let directory: RunDirectory

    public init(directory: RunDirectory) { self.directory = directory }

    /// The `format` metadata of the vectors file.
    static let vectorsFormat = "aviary-run-state-v\(RunState.formatVersion)"

    /// True when the run directory has a state to resume from.
    public var exists: Bool { FileManager.default.fileExists(atPath: directory.state) }

    public func save(_ state: RunState) throws(RunStateError) {
        if let (field, reason) = state.problem() {
            throw .inconsistent(path: directory.state, field: field, reason: reason + " (refusing to save it)")
        }
        let relative = RunDirectory.stateVectorsName(round: state.round)
        let vectorsPath = directory.path + "/" + relative
        let p = state.global.count
        var arrays: [(name: String, shape: [Int], values: [Float])] = [
            ("global", [p], state.global),
            ("optimizer.m", [state.optimizer.m.count], state.optimizer.m),
            ("optimizer.v", [state.optimizer.v.count], state.optimizer.v),
        ]
        for (i, e) in state.mergeWindow.enumerated() { arrays.append(("merge_window.\(i)", [p], e.parameters)) }
        for name in state.vectors.keys.sorted() { arrays.append(("extra." + name, [state.vectors[name]!.count], state.vectors[name]!)) }
        let written: (bytes: Int, crc32: UInt32)
        do {
            try FileManager.default.createDirectory(atPath: directory.stateDirectory, withIntermediateDirectories: true)
            written = try Safetensors.write(arrays: arrays, metadata: [
                "format": Self.vectorsFormat, "run": state.run, "round": String(state.round),
            ], to: vectorsPath)
        } catch {
            throw .cannotWrite(path: vectorsPath, reason: "\(error)")
        }
        let document = StateDocument(
            version: RunState.formatVersion, run: state.run, round: state.round, time: Self.timestamp(),
            topologyDigest: state.topologyDigest, seeds: state.seeds, rng: RunState.statelessRNG, parameters: p,
            vectors: .init(file: relative, bytes: written.bytes, crc32: CRC32.hex(written.crc32)),
            optimizer: .init(spec: state.optimizer.spec, steps: state.optimizer.steps,
                             m: state.optimizer.m.count, v: state.optimizer.v.count),
            sampling: .init(registeredCount: state.registeredCount, unresponsive: state.unresponsive),
            mergeWindow: state.mergeWindow.map { .init(round: $0.round, loss: $0.loss) }, lastEval: state.lastEval,
            integers: state.integers, numbers: state.numbers, strings: state.strings,
            extraVectors: state.vectors.mapValues(\.count),
            log: state.log, elapsedSeconds: state.elapsedSeconds)
        do {
            let encoder = LogCoding.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            var json = try encoder.encode(document)
            json.append(0x0A)
            try AtomicFile.write(json, to: directory.state)
        } catch {
            throw .cannotWrite(path: directory.state, reason: "\(error)")
        }
        // Only now is the new file the one state.json names; older ones are garbage.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.stateDirectory)) ?? []
        for name in names where name.hasPrefix("round-") && name.hasSuffix(".safetensors") && "state/" + name != relative {
            try? FileManager.default.removeItem(atPath: directory.stateDirectory + "/" + name)
        }
    }

    /// Reads and validates the state. With `topology` (the bytes of the topology.toml about to
    /// be resumed), also refuses a topology that differs from the one the run started with.
    public func load(topology: [UInt8]? = nil) throws(RunStateError) -> RunState {
        let path = directory.state
        guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "permission denied?") }
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
        // The file name is fixed by the round: state.json cannot point outside state/.
        guard doc.vectors.file == RunDirectory.stateVectorsName(round: doc.round) else {
            throw .inconsistent(path: path, field: "vectors.file",
                                reason: "is '\(doc.vectors.file)', expected '\(RunDirectory.stateVectorsName(round: doc.round))'")
        }
        let vectorsPath = directory.path + "/" + doc.vectors.file
        let file = try readVectors(vectorsPath, expected: doc.vectors)
        // The file records whose state it is, under its CRC: renaming it to another round (with
        // state.json edited to match) is caught here.
        let expectedMetadata = ["format": Self.vectorsFormat, "run": doc.run, "round": String(doc.round)]
        for key in expectedMetadata.keys.sorted() where file.metadata[key] != expectedMetadata[key] {
            throw .inconsistent(path: vectorsPath, field: "metadata.\(key)",
                                reason: "is '\(file.metadata[key] ?? "absent")', state.json says '\(expectedMetadata[key]!)'")
        }
        func tensor(_ name: String, count: Int) throws(RunStateError) -> [Float] {
            guard let t = file.tensor(named: name) else { throw .badTensor(path: vectorsPath, tensor: name, reason: "is missing") }
            guard t.dtype == "F32", t.shape == [count] else {
                throw .badTensor(path: vectorsPath, tensor: name, reason: "is \(t.dtype) \(t.shape), expected F32 [\(count)]")
            }
            let values: [Float]
            do { values = try file.values(named: name) } catch { throw .badTensor(path: vectorsPath, tensor: name, reason: "\(error)") }
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw .badTensor(path: vectorsPath, tensor: name, reason: "value \(i) is \(values[i]), not finite")
            }
            return values
        }
        let p = doc.parameters
        let global = try tensor("global", count: p)
        let m = try tensor("optimizer.m", count: doc.optimizer.m)
        let v = try tensor("optimizer.v", count: doc.optimizer.v)
        var window: [MergeWindowEntry] = []
        for (i, e) in doc.mergeWindow.enumerated() {
            window.append(MergeWindowEntry(round: e.round, loss: e.loss, parameters: try tensor("merge_window.\(i)", count: p)))
        }
        var extra: [String: [Float]] = [:]
        for (name, count) in doc.extraVectors { extra[name] = try tensor("extra." + name, count: count) }
        let expectedNames = Set(["global", "optimizer.m", "optimizer.v"] + window.indices.map { "merge_window.\($0)" }
            + doc.extraVectors.keys.map { "extra." + $0 })
        if let stray = file.tensors.map(\.name).first(where: { !expectedNames.contains($0) }) {
            throw .badTensor(path: vectorsPath, tensor: stray, reason: "is not named in \(path)")
        }
        let optimizer: ServerOptimizer
        do { optimizer = try ServerOptimizer(spec: doc.optimizer.spec, m: m, v: v, steps: doc.optimizer.steps) } catch {
            throw .inconsistent(path: path, field: "optimizer", reason: "\(error)")
        }
        let state = RunState(
            run: doc.run, round: doc.round, topologyDigest: doc.topologyDigest, seeds: doc.seeds, global: global,
            optimizer: optimizer, registeredCount: doc.sampling.registeredCount, unresponsive: doc.sampling.unresponsive,
            mergeWindow: window, integers: doc.integers, numbers: doc.numbers, strings: doc.strings, lastEval: doc.lastEval,
            vectors: extra, log: doc.log, elapsedSeconds: doc.elapsedSeconds)
        if let (field, reason) = state.problem() { throw .inconsistent(path: path, field: field, reason: reason) }
        return state
    }

    private func readVectors(_ path: String, expected: StateDocument.Vectors) throws(RunStateError) -> SafetensorsFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .vectorsCorrupt(path: path, reason: "the file is missing")
        }
        let bytes: [UInt8]
        do { bytes = try SafetensorsFileIO.readAll(path: path) } catch { throw .unreadable(path: path, reason: "\(error)") }
        guard bytes.count == expected.bytes else {
            throw .vectorsCorrupt(path: path, reason: "it has \(bytes.count) bytes, state.json recorded \(expected.bytes)")
        }
        let crc = CRC32.hex(CRC32.checksum(bytes))
        guard crc == expected.crc32 else {
            throw .vectorsCorrupt(path: path, reason: "CRC-32 is \(crc), state.json recorded \(expected.crc32)")
        }
        do { return try Safetensors.parse(bytes, path: path) } catch { throw .vectorsCorrupt(path: path, reason: "\(error)") }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
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
    var vectors: Vectors
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

    struct Vectors: Codable { var file: String; var bytes: Int; var crc32: String }
    struct Optimizer: Codable { var spec: ServerOptimizerSpec; var steps: Int; var m: Int; var v: Int }
    struct Sampling: Codable { var registeredCount: Int; var unresponsive: [Int] }
    struct WindowEntry: Codable { var round: Int; var loss: Double }
}
