import AviaryLog
import AviaryMath
import AviaryNN

/// Writes global models as safetensors, one tensor per layer (PyTorch names), atomically.
struct Checkpointer {
    let directory: RunDirectory
    let layout: ParameterLayout

    /// A round checkpoint as the log records it: the path relative to the run directory, and
    /// the file's size and CRC-32 (hex) as written.
    struct Written: Equatable {
        var path: String
        var bytes: Int
        var crc32: String
    }

    /// `sync: false` renames it into place without fsync (between durability points).
    func write(_ parameters: [Float], round: Int, run: String, model: String, sync: Bool = true) throws -> Written {
        let written = try Safetensors.write(tensors: layout.tensors.map { (name: $0.name, shape: $0.shape) }, values: parameters,
                                            metadata: RunDirectory.checkpointMetadata(run: run, round: round, model: model),
                                            to: directory.checkpoint(round: round), sync: sync)
        return Written(path: RunDirectory.checkpointPath(round: round), bytes: written.bytes, crc32: CRC32.hex(written.crc32))
    }

    /// A checkpoint merged across `rounds`, written beside the round's own.
    func writeMerged(_ parameters: [Float], round: Int, rounds: [Int], run: String, sync: Bool = true) throws -> String {
        try Safetensors.write(tensors: layout.tensors.map { (name: $0.name, shape: $0.shape) }, values: parameters,
                              metadata: RunDirectory.mergedCheckpointMetadata(run: run, rounds: rounds),
                              to: directory.mergedCheckpoint(round: round), sync: sync)
        return RunDirectory.mergedCheckpointPath(round: round)
    }
}

extension RunDirectory {
    /// The copy of an external model's parameters file the run started from (`[model] kind =
    /// "external"`); a resumed server reads the model's tensors from it.
    var externalModelInit: String { path + "/model-init.safetensors" }
}
