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
}
