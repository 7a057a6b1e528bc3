import AviaryLog
import AviaryNN

/// Writes global models as safetensors, one tensor per layer (PyTorch names), atomically.
struct Checkpointer {
    let directory: RunDirectory
    let layout: ParameterLayout

    /// Returns the path relative to the run directory, as the log records it.
    func write(_ parameters: [Float], round: Int, metadata: [String: String]) throws -> String {
        try Safetensors.write(tensors: layout.tensors.map { (name: $0.name, shape: $0.shape) }, values: parameters,
                              metadata: metadata, to: directory.checkpoint(round: round))
        return "checkpoints/" + RunDirectory.checkpointName(round: round)
    }

    /// A checkpoint merged across `rounds`, written beside the round's own.
    func writeMerged(_ parameters: [Float], round: Int, rounds: [Int], run: String) throws -> String {
        let name = RunDirectory.mergedCheckpointName(round: round)
        try Safetensors.write(tensors: layout.tensors.map { (name: $0.name, shape: $0.shape) }, values: parameters,
                              metadata: ["run": run, "merged_rounds": rounds.map(String.init).joined(separator: ","),
                                         "format": "aviary-checkpoint-v1"],
                              to: directory.checkpoints + "/" + name)
        return "checkpoints/" + name
    }
}
