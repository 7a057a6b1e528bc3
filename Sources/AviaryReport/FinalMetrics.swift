import Foundation
import AviaryLog

/// A run's end state as the log records it: `run_end.final_eval` when present, otherwise the
/// last evaluated round (a run still going, or one that stopped without `run_end`).
public struct FinalMetrics: Sendable, Equatable {
    public var run: String
    public var path: String
    public var rounds: Int
    public var durationSeconds: Double?
    public var cleanAccuracy: Double?
    public var cleanLoss: Double?
    /// From the final evaluation, else the last round that measured it.
    public var robustAccuracy: Double?
    public var status: String
    /// `[privacy]` runs: ε spent by the last round (nil without DP or when not reported).
    public var epsilon: Double?
    /// Whether the run had `[privacy]` on (so a table can show ε, or "-" when not reported).
    public var isPrivate: Bool

    public init(log: AggregationLog, path: String) {
        run = log.runStart?.run ?? path
        self.path = path
        rounds = log.runEnd?.roundsCompleted ?? log.rounds.count
        durationSeconds = log.runEnd?.durationSeconds
        let eval = log.runEnd?.finalEval ?? log.rounds.last(where: { $0.eval != nil })?.eval
        cleanAccuracy = eval?.cleanAccuracy
        cleanLoss = eval?.cleanLoss
        robustAccuracy = eval?.robustAccuracy ?? log.rounds.last(where: { $0.eval?.robustAccuracy != nil })?.eval?.robustAccuracy
        status = log.runEnd?.status ?? "no run_end"
        let privacy = log.rounds.last(where: { $0.privacy != nil })?.privacy
        epsilon = privacy?.epsilon
        isPrivate = privacy != nil
    }
}
