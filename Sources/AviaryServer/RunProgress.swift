import AviaryLog

/// What a running server reports to whoever prints progress (the command layer): the server
/// itself never writes to stdout.
public enum RunProgress: Sendable {
    case listening(endpoint: String, runDirectory: String)
    case resumed(fromRound: Int, notes: [String])
    case roundStarted(round: Int, sampled: Int)
    /// A client answered (or was lost) in the current round.
    case answered(round: Int, answered: Int, sampled: Int)
    /// The round closed and the server is merging and evaluating.
    case aggregating(round: Int)
    /// A round is written: its record, and why it merged nothing when it did not.
    case roundFinished(RoundRecord, nothingMerged: String?)
    case checkpointMerged(CheckpointMergeRecord)
    case finished(RunEndRecord)
}
