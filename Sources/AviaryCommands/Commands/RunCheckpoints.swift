import Foundation
import AviaryLog
import AviaryMerge

/// `aviary merge --run DIR --rounds …`: the round checkpoints a run wrote and each round's metric
/// from its log. `val_loss` is the loss on the validation split the server's
/// `[merge.checkpoints]` merging weighs by (`eval.validation_loss`), `clean_loss` the reported
/// test loss, `round` the round number. The clients' metrics stand in for the MWA paper's
/// training-time metrics: `train_loss` and `adv_loss` are the mean over the round's accepted
/// clients of what they reported for the local training that produced the checkpoint, and
/// `steps` is the local steps taken by every accepted client from round 1 through the round
/// (progress-type, like `round`: a later checkpoint weighs more).
enum RunCheckpoints {
    enum Metric: String, CaseIterable {
        case valLoss = "val_loss", cleanLoss = "clean_loss", round
        case trainLoss = "train_loss", advLoss = "adv_loss", steps

        var kind: MetricKind { self == .round || self == .steps ? .progress : .loss }
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
        var stepsThrough: [Int: Double] = [:]
        var steps = 0.0
        for r in log.rounds.sorted(by: { $0.round < $1.round }) {
            byRound[r.round] = r
            steps += r.accepted.reduce(0) { $0 + (r.clientMetrics[String($1)]?["local_steps"] ?? 0) }
            stepsThrough[r.round] = steps
        }
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
            case .trainLoss, .advLoss: value = Self.acceptedMean(record, metric.rawValue)
            case .steps: value = stepsThrough[round].flatMap { $0 > 0 ? $0 : nil }
            }
            guard let value else { throw .noMetric(round: round, metric: metric) }
            return Input(round: round, path: path, metric: value)
        }
    }

    /// The mean of `name` over the round's accepted clients that reported it; nil when none did.
    static func acceptedMean(_ record: RoundRecord, _ name: String) -> Double? {
        let values = record.accepted.compactMap { record.clientMetrics[String($0)]?[name] }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
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
                case .trainLoss, .advLoss, .steps:
                    "--rounds: round \(round) has no \(metric.rawValue) (no accepted client reported \(metric == .steps ? "local_steps" : metric.rawValue); adv_loss needs adversarial training)"
                default:
                    "--rounds: round \(round) has no \(metric.rawValue) (it was not an evaluation round; see [server] eval_every)"
                }
            }
        }
    }
}
