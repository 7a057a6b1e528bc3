/// Why a merge could not produce a result. The server keeps the current model on any of these.
public enum MergeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No update arrived this round.
    case noUpdates
    /// Every update was rejected (reasons attached).
    case noAcceptedUpdates(rejected: [Rejection])
    /// A client's delta length differs from the reference client's.
    case dimensionMismatch(clientIndex: Int, length: Int, expected: Int, referenceClient: Int)
    /// Two updates carry the same client index, so the merge order would be ambiguous.
    case duplicateClient(clientIndex: Int)
    /// The strategy needs more accepted updates than it got (e.g. Krum needs n ≥ 2f + 3).
    case tooFewUpdates(strategy: String, required: Int, got: Int)
    /// A checkpoint for `mergeCheckpoints` is unusable (position in the input list).
    case invalidCheckpoint(position: Int, reason: String)

    public var description: String {
        switch self {
        case .noUpdates:
            return "no client updates to merge; the global model is kept unchanged"
        case .noAcceptedUpdates(let rejected):
            let reasons = rejected.map { "client \($0.clientIndex): \($0.reason)" }.joined(separator: "; ")
            return "every client update was rejected (\(reasons)); the global model is kept unchanged"
        case .dimensionMismatch(let client, let length, let expected, let reference):
            return "client \(client) sent a delta of \(length) values but client \(reference) sent \(expected); "
                + "all clients must train the same model layout"
        case .duplicateClient(let client):
            return "client index \(client) appears twice in one round; each client may send one update per round"
        case .tooFewUpdates(let strategy, let required, let got):
            return "\(strategy) needs at least \(required) accepted updates but got \(got); "
                + "sample more clients per round or lower the assumed Byzantine count"
        case .invalidCheckpoint(let position, let reason):
            return "checkpoint #\(position + 1): \(reason)"
        }
    }
}

/// A strategy or optimiser configuration that cannot work, named so the user can fix the config.
public enum MergeConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    case penaltyOutOfRange(Double)
    case trimFractionOutOfRange(Double)
    case negativeByzantineCount(Int)
    case invalidSelectedCount(Int)
    case invalidClipNorm(Double)
    case invalidOptimizerParameter(optimizer: String, parameter: String, value: Double, allowed: String)

    public var description: String {
        switch self {
        case .penaltyOutOfRange(let p):
            return "MWA penalty \(p) is out of range; use a finite value in 0…10 (0 = uniform average)"
        case .trimFractionOutOfRange(let b):
            return "trimmed-mean beta \(b) is out of range; use 0 ≤ beta < 0.5 (fraction trimmed at each end)"
        case .negativeByzantineCount(let f):
            return "Byzantine count \(f) is negative; use f ≥ 0"
        case .invalidSelectedCount(let m):
            return "multi-Krum selected count \(m) is invalid; use m ≥ 1"
        case .invalidClipNorm(let c):
            return "clip norm \(c) is invalid; use a finite value > 0, or omit clipping"
        case .invalidOptimizerParameter(let optimizer, let parameter, let value, let allowed):
            return "server optimiser \(optimizer): \(parameter) = \(value) is invalid; use \(allowed)"
        }
    }
}
