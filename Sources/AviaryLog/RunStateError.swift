/// Why a run state could not be saved or resumed from; each case names the file and what in it.
public enum RunStateError: Error, CustomStringConvertible, Equatable {
    /// No state.json: the run never completed a round, or predates resume.
    case missing(path: String)
    case unreadable(path: String, reason: String)
    /// state.json is not the expected JSON (torn, edited, another format).
    case malformed(path: String, reason: String)
    case unsupportedVersion(path: String, found: Int, supported: Int)
    /// The vectors file is absent, or its size or CRC-32 differs from what state.json recorded.
    case vectorsCorrupt(path: String, reason: String)
    /// A tensor in the vectors file is missing, mis-shaped or not finite.
    case badTensor(path: String, tensor: String, reason: String)
    /// A field is inconsistent with the rest of the state.
    case inconsistent(path: String, field: String, reason: String)
    /// topology.toml differs from the one the run started with.
    case topologyChanged(path: String, saved: String, current: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path):
            "\(path) does not exist: the run has no completed round to resume from (or was written before resume existed)"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .malformed(path, reason): "\(path) is not a valid run state: \(reason)"
        case let .unsupportedVersion(path, found, supported):
            "\(path) has state format version \(found); this build reads version \(supported)"
                + (found < supported ? " (resume it with the build that wrote it, or start the run again)" : "")
        case let .vectorsCorrupt(path, reason): "\(path) is damaged: \(reason); the run cannot resume from it"
        case let .badTensor(path, tensor, reason): "\(path): tensor '\(tensor)' \(reason)"
        case let .inconsistent(path, field, reason): "\(path): \(field) \(reason)"
        case let .topologyChanged(path, saved, current):
            "\(path) was saved for a topology with digest \(saved) but topology.toml now has \(current); "
                + "resume with the topology the run started with"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        }
    }
}
