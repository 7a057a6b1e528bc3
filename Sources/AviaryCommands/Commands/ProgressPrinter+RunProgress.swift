import AviaryReport
import AviaryServer

/// The server's progress events, printed: the server reports, AviaryReport words it.
extension ProgressPrinter {
    func handle(_ event: RunProgress) {
        switch event {
        case let .listening(endpoint, runDirectory): listening(endpoint: endpoint, runDirectory: runDirectory)
        case let .resumed(fromRound, notes): resumed(fromRound: fromRound, notes: notes)
        case let .roundStarted(round, sampled): roundStarted(round: round, sampled: sampled)
        case let .answered(round, answered, sampled): self.answered(round: round, answered: answered, sampled: sampled)
        case let .aggregating(round): aggregating(round: round)
        case let .roundFinished(record, nothingMerged): roundFinished(record, nothingMerged: nothingMerged)
        case let .checkpointMerged(record): checkpointMerged(record)
        case .finished: finished()
        }
    }
}
