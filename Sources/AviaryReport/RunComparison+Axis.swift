import AviaryLog

/// `aviary compare --x-axis`: the metric against rounds or against the simulated clock.
extension RunComparison {
    /// A comparison plotted against `axis`; `.simulated` needs a simulated clock in every run
    /// and names the first run without one.
    public init(runs: [Run], metric: ComparisonMetric, axis: ComparisonAxis, groups: [SeedGroup]? = nil,
                lastK: Int = 10) throws(ComparisonError) {
        self.init(runs: runs, metric: metric, groups: groups, lastK: lastK)
        if axis == .simulated, let missing = runs.first(where: { !$0.log.rounds.contains { $0.system != nil } }) {
            throw .noSimulatedClock(run: missing.path)
        }
        self.axis = axis
    }

    /// One unit for every run on the plot, chosen by the latest simulated clock among them.
    var timeUnit: SimulatedTimeUnit {
        SimulatedTimeUnit(covering: runs.compactMap { $0.log.rounds.last { $0.system != nil }?.system?.clockSeconds }.max() ?? 0)
    }

    /// A run's evaluated rounds as (x on the axis, in its unit; metric) points, in log order.
    func points(_ run: Run) -> [PlotPoint] {
        let scale = axis == .simulated ? timeUnit.seconds : 1
        return run.log.rounds.compactMap { r in
            guard let x = axis.x(r), let y = r.eval.flatMap({ metric.value($0) }) else { return nil }
            return PlotPoint(x: x / scale, y: y)
        }
    }

    var xLabel: String { axis == .simulated ? timeUnit.label : "round" }

    var plotTitle: String { "\(metric.rawValue) \(axis == .simulated ? "against simulated time" : "per round")" }
}
