import Foundation
import AviaryLog

/// A run's per-round numbers as the exports write them: the numeric columns of
/// `aviary logs --csv`, under the same names, with the same values (a column a round did not
/// measure is left out for that round, as the CSV leaves its cell empty). The Python tests
/// compare every exported value with the CSV.
public struct RoundScalars: Sendable, Equatable {
    public var round: Int
    /// The round record's `time`, in seconds since 1970 (the scalars' wall time).
    public var wallTime: Double
    public var values: [(name: String, value: Double)]

    public static func == (a: RoundScalars, b: RoundScalars) -> Bool {
        a.round == b.round && a.wallTime == b.wallTime && a.values.map(\.name) == b.values.map(\.name)
            && zip(a.values, b.values).allSatisfy { $0.value == $1.value || ($0.value.isNaN && $1.value.isNaN) }
    }

    public static func of(_ log: AggregationLog) -> [RoundScalars] {
        var merges: [Int: CheckpointMergeRecord] = [:]
        for m in log.checkpointMerges { merges[m.round] = m }
        let start = log.runStart.flatMap { timestamp($0.time) } ?? 0
        return log.rounds.map { r in
            let m = merges[r.round]
            let fields: [(String, Double?)] = [
                ("sampled", Double(r.sampled.count)), ("accepted", Double(r.accepted.count)),
                ("rejected", Double(r.rejected.count)), ("timed_out", Double(r.timedOut.count)), ("failed", Double(r.failed.count)),
                ("lost", Double(r.lost?.count ?? 0)),
                ("clean_accuracy", r.eval?.cleanAccuracy), ("clean_loss", r.eval?.cleanLoss), ("robust_accuracy", r.eval?.robustAccuracy),
                ("update_norm", r.updateNorm), ("duration_seconds", r.durationSeconds),
                ("client_acc_mean", r.fairness?.mean), ("client_acc_min", r.fairness?.min), ("client_acc_worst10", r.fairness?.worst10Mean),
                ("sim_round_seconds", r.system?.roundSeconds), ("sim_clock_seconds", r.system?.clockSeconds),
                ("offline", r.system.map { Double($0.offlineCount) }), ("stragglers", r.system.map { Double($0.stragglers.count) }),
                ("merged_clean_accuracy", m?.eval.cleanAccuracy), ("merged_clean_loss", m?.eval.cleanLoss),
                ("merged_robust_accuracy", m?.eval.robustAccuracy),
                ("epsilon", r.privacy?.epsilon), ("delta", r.privacy?.delta), ("clip_norm", r.privacy?.clipNorm),
            ]
            return RoundScalars(round: r.round, wallTime: timestamp(r.time) ?? start,
                                values: fields.compactMap { name, v in v.map { (name, $0) } })
        }
    }

    /// An ISO 8601 `time` field as seconds since 1970.
    static func timestamp(_ text: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)?.timeIntervalSince1970
    }
}

/// Why an export cannot be written; each names the path.
public enum ExportError: Error, Equatable, CustomStringConvertible {
    case noRunStart(path: String)
    case cannotWrite(path: String, reason: String)
    case notAStore(path: String, reason: String)
    /// The run was exported before into another experiment of the same store (MLflow run ids
    /// are unique per store).
    case exportedElsewhere(runID: String, path: String, experiment: String)

    public var description: String {
        switch self {
        case let .noRunStart(path): "\(path) has no run_start record: nothing to export (is the run still starting?)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        case let .notAStore(path, reason): "\(path) is not an MLflow file store: \(reason)"
        case let .exportedElsewhere(runID, path, experiment):
            "this run was exported before as MLflow run \(runID) in experiment '\(experiment)' (\(path)); "
                + "export it with --experiment '\(experiment)' to update that run, or remove \(path) first"
        }
    }
}
