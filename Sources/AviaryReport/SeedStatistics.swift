import Foundation
import AviaryLog

/// Mean and sample standard deviation (n − 1) of a few seeds' values. With one value the
/// spread is unknown, not zero, so `std` is nil and the text says `n=1`.
public struct MeanStd: Sendable, Equatable {
    public var mean: Double
    public var std: Double?
    public var count: Int

    /// nil when `values` is empty.
    public init?(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return nil }
        count = finite.count
        mean = finite.reduce(0, +) / Double(count)
        if count > 1 {
            let m = mean
            std = (finite.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot()
        } else {
            std = nil
        }
    }

    /// `0.6523 ± 0.0121` (or `0.6523 (n=1)`).
    public func text(decimals: Int = 3) -> String {
        let m = String(format: "%.\(decimals)f", mean)
        guard let std else { return m + " (n=1)" }
        return m + " ± " + String(format: "%.\(decimals)f", std)
    }

    /// The standard error of the mean; nil with one value.
    public var standardError: Double? { std.map { $0 / Double(count).squareRoot() } }
}

/// What one run contributes to a seed group: final-round and last-K summaries of its evaluations.
public struct RunOutcome: Sendable, Equatable {
    public var finalClean: Double?
    /// Mean clean accuracy over the last `k` evaluated rounds (non-IID runs swing between rounds).
    public var lastKClean: Double?
    public var finalRobust: Double?
    /// Mean robust accuracy over the last `k` rounds that measured it.
    public var lastKRobust: Double?
    public var durationSeconds: Double?
    public var completed: Bool
    /// The last across-round checkpoint merge (`[merge.checkpoints]`): its model's accuracies.
    public var mergedClean: Double?
    public var mergedRobust: Double?
    /// Robust accuracy of the final checkpoint under further attacks (`aviary results --attack`), by attack.
    public var extraRobust: [String: Double] = [:]
    /// Client-to-server bytes over the run (the rounds' `bytes_up`: encoded UPDATE frames); nil when not logged.
    public var bytesUp: Double?
    /// The simulated clock after the last round (`[system]` runs), seconds.
    public var simulatedSeconds: Double?
    /// `[privacy]` runs: ε spent by the last round (nil without DP or when not reported).
    public var epsilon: Double?
    /// Clean accuracy against the simulated clock (`[system]` runs); nil without one.
    public var simulatedCurve: SimulatedCurve?
    /// The rounds' `server_seconds` over the run's wall time; nil when either is not logged.
    public var serverShare: Double?

    public init(log: AggregationLog, lastK k: Int) {
        // Final figures exactly as `aviary compare` and the report show them.
        let final = FinalMetrics(log: log, path: "")
        finalClean = final.cleanAccuracy
        finalRobust = final.robustAccuracy
        let evals = log.rounds.compactMap(\.eval)
        let clean = evals.suffix(max(1, k)).map(\.cleanAccuracy)
        lastKClean = clean.isEmpty ? nil : clean.reduce(0, +) / Double(clean.count)
        let robust = evals.compactMap(\.robustAccuracy)
        let lastRobust = robust.suffix(max(1, k))
        lastKRobust = lastRobust.isEmpty ? nil : lastRobust.reduce(0, +) / Double(lastRobust.count)
        durationSeconds = log.runEnd?.durationSeconds
        epsilon = final.epsilon
        completed = log.runEnd?.status == "completed"
        let merge = log.checkpointMerges.last
        mergedClean = merge?.eval.cleanAccuracy
        mergedRobust = merge?.eval.robustAccuracy
        let up = log.rounds.compactMap(\.bytesUp)
        bytesUp = up.isEmpty ? nil : Double(up.reduce(0, +))
        simulatedSeconds = log.rounds.last(where: { $0.system != nil })?.system?.clockSeconds
        simulatedCurve = SimulatedCurve(log: log)
        serverShare = Self.serverShare(log)
    }
}

/// Runs that differ only by seed, summarised across seeds: the numbers a results table shows.
public struct SeedGroupSummary: Sendable, Equatable {
    public var label: String
    public var seeds: Int
    public var finalClean: MeanStd?
    public var lastKClean: MeanStd?
    public var finalRobust: MeanStd?
    public var lastKRobust: MeanStd?
    public var mergedClean: MeanStd?
    public var mergedRobust: MeanStd?
    public var bytesUp: MeanStd?
    public var simulatedSeconds: MeanStd?
    public var epsilon: MeanStd?
    /// The runs' curves against the simulated clock (those that have one), for time-to-target.
    public var simulatedCurves: [SimulatedCurve]
    public var serverShare: MeanStd?
    /// By attack, as `RunOutcome.extraRobust`.
    public var extraRobust: [String: MeanStd]
    /// Summed wall time of the group's runs.
    public var totalSeconds: Double
    public var incomplete: Int

    public init(label: String, outcomes: [RunOutcome]) {
        self.label = label
        seeds = outcomes.count
        finalClean = MeanStd(outcomes.compactMap(\.finalClean))
        lastKClean = MeanStd(outcomes.compactMap(\.lastKClean))
        finalRobust = MeanStd(outcomes.compactMap(\.finalRobust))
        lastKRobust = MeanStd(outcomes.compactMap(\.lastKRobust))
        mergedClean = MeanStd(outcomes.compactMap(\.mergedClean))
        mergedRobust = MeanStd(outcomes.compactMap(\.mergedRobust))
        bytesUp = MeanStd(outcomes.compactMap(\.bytesUp))
        simulatedSeconds = MeanStd(outcomes.compactMap(\.simulatedSeconds))
        epsilon = MeanStd(outcomes.compactMap(\.epsilon))
        simulatedCurves = outcomes.compactMap(\.simulatedCurve)
        serverShare = MeanStd(outcomes.compactMap(\.serverShare))
        let attacks = Set(outcomes.flatMap(\.extraRobust.keys))
        extraRobust = Dictionary(uniqueKeysWithValues: attacks.compactMap { a in
            MeanStd(outcomes.compactMap { $0.extraRobust[a] }).map { (a, $0) }
        })
        totalSeconds = outcomes.compactMap(\.durationSeconds).reduce(0, +)
        incomplete = outcomes.filter { !$0.completed }.count
    }
}

/// A per-round metric averaged over the runs of a group: the line and the ±1 std band of a
/// shaded comparison plot. A round appears when at least one run evaluated it; its band only
/// when two did.
public struct RoundBand: Sendable, Equatable {
    public var round: Int
    public var stats: MeanStd

    public static func bands(_ series: [[PlotPoint]]) -> [RoundBand] {
        var byRound: [Int: [Double]] = [:]
        for points in series {
            for p in points where p.y.isFinite { byRound[Int(p.x), default: []].append(p.y) }
        }
        return byRound.keys.sorted().compactMap { r in MeanStd(byRound[r]!).map { RoundBand(round: r, stats: $0) } }
    }
}
