import AviaryLog

/// How soon on the simulated clock a run first reaches a target accuracy (the asynchronous-FL
/// question: FedBuff against sync FedAvg), and how much of its wall time the server took.
/// Built from the log alone: the evaluated rounds' `system.clock_seconds` and `server_seconds`.
public struct SimulatedCurve: Sendable, Equatable {
    /// (simulated seconds at the evaluated round's close, clean accuracy), in round order.
    public var points: [PlotPoint]

    public init(points: [PlotPoint]) { self.points = points }

    /// nil for a log without a simulated clock.
    public init?(log: AggregationLog) {
        let points = log.rounds.compactMap { r in
            r.eval.flatMap { e in r.system.map { PlotPoint(x: $0.clockSeconds, y: e.cleanAccuracy) } }
        }
        guard !points.isEmpty else { return nil }
        self.points = points
    }

    /// The simulated time of the first evaluation at or above `target`; nil when none reaches it.
    public func firstReaching(_ target: Double) -> Double? {
        points.first { $0.y.isFinite && $0.y >= target }?.x
    }
}

/// One row of a study's time-to-target table: its runs' first times at the target.
public struct TimeToTarget: Sendable, Equatable {
    /// Runs that reached the target, and all runs with a clock.
    public var reached: Int
    public var runs: Int
    /// Over the runs that reached it.
    public var seconds: MeanStd?

    public init(curves: [SimulatedCurve], target: Double) {
        let times = curves.compactMap { $0.firstReaching(target) }
        reached = times.count
        runs = curves.count
        seconds = MeanStd(times)
    }
}

extension RunOutcome {
    /// The server's share of the run's wall time: the rounds' `server_seconds` (merge,
    /// evaluation, the next sampling, all of it while clients wait) plus their `persist_seconds`
    /// (checkpoint, log and run-state writes; absent in older logs) over `run_end`'s duration.
    static func serverShare(_ log: AggregationLog) -> Double? {
        let server = log.rounds.compactMap(\.serverSeconds)
        guard !server.isEmpty, let wall = log.runEnd?.durationSeconds, wall > 0 else { return nil }
        let persist = log.rounds.compactMap(\.persistSeconds).reduce(0, +) + (log.runEnd?.persistSeconds ?? 0)
        return (server.reduce(0, +) + persist) / wall
    }
}
