import Foundation

/// The layout of `runs/<name>/`. Every path a run writes or a reader opens comes from here.
///
///     topology.toml          copy of what ran
///     aggregation.jsonl      one JSON line per round plus tagged events
///     checkpoints/round-NNNN.safetensors
///     endpoint               the address the server bound (for launchers when port 0 was asked)
///     state.json             what resume needs after the last completed round (RunStateStore)
///     state/rNNNN-<vector>.safetensors   the vectors state.json names, one file each (RunStateStore)
///     logs/server.log, logs/client-P.log
///     client-state/<run id>/client-NNNNNN/   top-k residuals of the clients `aviary run` started
public struct RunDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var topology: String { path + "/topology.toml" }
    public var log: String { path + "/aggregation.jsonl" }
    public var checkpoints: String { path + "/checkpoints" }
    public var logs: String { path + "/logs" }
    public var endpoint: String { path + "/endpoint" }
    public var report: String { path + "/report.html" }
    public var state: String { path + "/state.json" }
    public var stateDirectory: String { path + "/state" }
    /// The `--state-dir` of the client processes `aviary run` starts (top-k residuals).
    public var clientState: String { path + "/client-state" }

    /// The `format` metadata of every checkpoint a run writes (round and merged).
    public static let checkpointFormat = "aviary-checkpoint-v1"

    /// A round checkpoint's safetensors metadata.
    public static func checkpointMetadata(run: String, round: Int, model: String) -> [String: String] {
        ["run": run, "round": String(round), "model": model, "format": checkpointFormat]
    }

    /// A merged checkpoint's safetensors metadata.
    public static func mergedCheckpointMetadata(run: String, rounds: [Int]) -> [String: String] {
        ["run": run, "merged_rounds": rounds.map(String.init).joined(separator: ","), "format": checkpointFormat]
    }

    /// Refuses a safetensors file whose `format` tag names another Aviary format (a run state's
    /// vectors, a later checkpoint version); a file without the tag (PyTorch's, `aviary merge`
    /// output) passes, its tensors are checked against the model by the reader.
    public static func checkCheckpointFormat(_ metadata: [String: String], path: String) throws(RunFileError) {
        guard let format = metadata["format"], format != checkpointFormat else { return }
        throw .mismatch(path: path, reason: "its format tag is '\(format)', not an Aviary model checkpoint ('\(checkpointFormat)')"
            + (format.hasPrefix("aviary-run-state") ? "; it is a run state's vectors file, use checkpoints/round-NNNN.safetensors" : ""))
    }

    public func checkpoint(round: Int) -> String { path + "/" + Self.checkpointPath(round: round) }
    public func mergedCheckpoint(round: Int) -> String { path + "/" + Self.mergedCheckpointPath(round: round) }
    /// Relative to the run directory, as the log's `checkpoint` fields record it.
    public static func checkpointPath(round: Int) -> String { "checkpoints/" + checkpointName(round: round) }
    public static func mergedCheckpointPath(round: Int) -> String { "checkpoints/" + mergedCheckpointName(round: round) }
    public static func mergedCheckpointName(round: Int) -> String { "merged-" + checkpointName(round: round) }
    public static func checkpointName(round: Int) -> String { "round-" + String(format: "%04d", round) + ".safetensors" }
    public func clientLog(process: Int) -> String { logs + "/client-\(process).log" }
    public var serverLog: String { logs + "/server.log" }

    /// Creates the directory tree. A directory that already holds a log is refused unless
    /// `overwrite`, so a finished run is never silently clobbered.
    public func create(overwrite: Bool) throws(RunFileError) {
        let fm = FileManager.default
        if fm.fileExists(atPath: log) {
            guard overwrite else {
                throw .cannotWrite(path: path, reason: "a run already exists here; pass --overwrite or change [run].name")
            }
            // The state goes too: resuming an overwritten run from the old run's state would mix two runs.
            for item in [log, endpoint, checkpoints, state, stateDirectory, clientState] { try? fm.removeItem(atPath: item) }
        }
        do {
            for dir in [path, checkpoints, logs] { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        } catch {
            // The keys say what to change.
            throw .cannotWrite(path: path, reason: "cannot create the run directory from [run].output and [run].name: \(ErrorReason.of(error))")
        }
    }
}
