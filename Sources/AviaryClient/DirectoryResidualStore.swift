import Foundation
import AviaryLog
import AviaryProtocol

/// Error-feedback residuals as files, so a process holds none in memory between rounds and a
/// restarted process (or one started by `aviary run --resume`) continues where it was:
///
///     <state-dir>/<run id>/client-000042/r0007-g0.safetensors
///
/// One safetensors file per version (tensor `residual`, metadata client, round, generation,
/// run), written atomically like every run file. The run id (from the run spec) keeps runs
/// apart, so one state directory can serve many runs without mixing their residuals. Each
/// client's directory is read when that client trains, so clients may move between processes
/// sharing the directory; two processes must not host the same client at once.
final class DirectoryResidualStore: ResidualStore {
    let root: String
    let runID: String

    init(stateDirectory: String, runID: String) throws(ResidualStoreError) {
        guard !runID.isEmpty, !runID.contains("/"), !runID.hasPrefix(".") else {
            throw .unwritable(path: stateDirectory, reason: "the run id '\(runID)' cannot name a directory")
        }
        root = stateDirectory + "/" + runID
        self.runID = runID
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw .unwritable(path: root, reason: ErrorReason.of(error))
        }
    }

    func directory(client: Int) -> String { root + "/" + String(format: "client-%06d", client) }

    func path(client: Int, version: ResidualHistory.Version) -> String {
        directory(client: client) + "/" + String(format: "r%04d-g%d.safetensors", version.round, version.generation)
    }

    /// The version a file name stands for; nil for anything else (temp files of a killed writer).
    static func version(fileName name: String) -> ResidualHistory.Version? {
        guard name.hasPrefix("r"), name.hasSuffix(".safetensors") else { return nil }
        let parts = name.dropFirst().dropLast(".safetensors".count).split(separator: "-g", omittingEmptySubsequences: false)
        guard parts.count == 2, let round = Int(parts[0]), let generation = Int(parts[1]), round >= 0, generation >= 0 else { return nil }
        return .init(round: round, generation: generation)
    }

    func versions(client: Int) throws(ResidualStoreError) -> [ResidualHistory.Version] {
        let dir = directory(client: client)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            if !FileManager.default.fileExists(atPath: dir) { return [] }
            throw .unreadable(path: dir, reason: ErrorReason.of(error))
        }
        var found: [ResidualHistory.Version] = []
        for name in names {
            if let v = Self.version(fileName: name) {
                found.append(v)
            } else if name.contains(".safetensors.tmp-") {
                // A write interrupted by a kill never renamed its temp file: nothing refers to it.
                try? FileManager.default.removeItem(atPath: dir + "/" + name)
            }
        }
        return found
    }

    func clients() throws(ResidualStoreError) -> [Int] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root) } catch {
            throw .unreadable(path: root, reason: ErrorReason.of(error))
        }
        return names.compactMap { $0.hasPrefix("client-") ? Int($0.dropFirst("client-".count)) : nil }
    }

    func load(client: Int, version: ResidualHistory.Version, count: Int) throws(ResidualStoreError) -> [Float] {
        let file = path(client: client, version: version)
        let values: [Float]
        let metadata: [String: String]
        do {
            let st = try Safetensors.read(path: file)
            guard st.tensors.map(\.name) == ["residual"] else {
                throw ResidualStoreError.mismatch(path: file, field: "tensors", expected: "[residual]", found: "\(st.tensors.map(\.name))")
            }
            values = try st.values(named: "residual")
            metadata = st.metadata
        } catch let error as ResidualStoreError {
            throw error
        } catch {
            throw .unreadable(path: file, reason: "\(error)")
        }
        let expected = ["client": "\(client)", "round": "\(version.round)", "generation": "\(version.generation)", "run": runID]
        for key in expected.keys.sorted() where metadata[key] != expected[key] {
            throw .mismatch(path: file, field: "metadata.\(key)", expected: expected[key]!, found: metadata[key] ?? "absent")
        }
        guard values.count == count else {
            throw .mismatch(path: file, field: "length", expected: "\(count) (the model's parameters)", found: "\(values.count)")
        }
        return values
    }

    func save(client: Int, version: ResidualHistory.Version, residual: [Float]) throws(ResidualStoreError) {
        let file = path(client: client, version: version)
        do {
            try FileManager.default.createDirectory(atPath: directory(client: client), withIntermediateDirectories: true)
            try Safetensors.write(
                tensors: [("residual", [residual.count])], values: residual,
                metadata: ["client": "\(client)", "round": "\(version.round)", "generation": "\(version.generation)", "run": runID],
                to: file)
        } catch {
            throw .unwritable(path: file, reason: ErrorReason.of(error))
        }
    }

    func delete(client: Int, version: ResidualHistory.Version) throws(ResidualStoreError) {
        let file = path(client: client, version: version)
        do { try FileManager.default.removeItem(atPath: file) } catch {
            if FileManager.default.fileExists(atPath: file) { throw .unwritable(path: file, reason: ErrorReason.of(error)) }
        }
        // The client's last version gone: its directory goes too (rmdir refuses a non-empty one),
        // so a bounded store stays bounded in directories as well.
        _ = rmdir(directory(client: client))
    }
}
