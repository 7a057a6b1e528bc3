import Foundation
import AviaryLog
import AviaryMerge

/// `aviary merge --run DIR --rounds …`: the round checkpoints a run wrote and each round's metric
/// from its log. The metrics are the server's own: `val_loss` is the loss on the validation
/// split its `[merge.checkpoints]` merging weighs by (`eval.validation_loss`), `clean_loss` the
/// reported test loss, `round` the round number.
enum RunCheckpoints {
    enum Metric: String, CaseIterable {
        case valLoss = "val_loss", cleanLoss = "clean_loss", round

        var kind: MetricKind { self == .round ? .progress : .loss }
    }

    struct Input {
        var round: Int
        var path: String
        var metric: Double
    }

    /// One input per round, in the order given; refuses a round the log lacks, one without a
    /// checkpoint file, and one without the metric, naming the round.
    static func select(log: AggregationLog, runDirectory: String, rounds: [Int], metric: Metric) throws(Failure) -> [Input] {
        var byRound: [Int: RoundRecord] = [:]
        for r in log.rounds { byRound[r.round] = r }
        return try rounds.map { (round: Int) throws(Failure) -> Input in
            guard let record = byRound[round] else {
                let have = log.rounds.map(\.round)
                throw .noRound(round: round, available: have.isEmpty ? "it has no rounds" : "its rounds are \(have.min()!)…\(have.max()!)")
            }
            let path = runDirectory + "/" + (record.checkpoint ?? RunDirectory.checkpointPath(round: round))
            guard record.checkpoint != nil, FileManager.default.fileExists(atPath: path) else {
                throw .noCheckpoint(round: round, path: path)
            }
            let value: Double?
            switch metric {
            case .valLoss: value = record.eval?.validationLoss
            case .cleanLoss: value = record.eval?.cleanLoss
            case .round: value = Double(round)
            }
            guard let value else { throw .noMetric(round: round, metric: metric) }
            return Input(round: round, path: path, metric: value)
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case noRound(round: Int, available: String)
        case noCheckpoint(round: Int, path: String)
        case noMetric(round: Int, metric: Metric)

        var description: String {
            switch self {
            case let .noRound(round, available):
                "--rounds: the log has no round \(round); \(available)"
            case let .noCheckpoint(round, path):
                "--rounds: round \(round) has no checkpoint (\(path) is missing; [server] checkpoint_every decides which rounds keep one)"
            case let .noMetric(round, metric):
                switch metric {
                case .valLoss:
                    "--rounds: round \(round) has no val_loss (eval.validation_loss: the round was not evaluated, or [evaluation] validation_fraction is 0; --metric clean_loss selects on the test set instead)"
                default:
                    "--rounds: round \(round) has no \(metric.rawValue) (it was not an evaluation round; see [server] eval_every)"
                }
            }
        }
    }
}
