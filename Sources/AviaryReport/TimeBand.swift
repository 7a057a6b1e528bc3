/// A per-round metric averaged over a group's runs against simulated time: the line and ±1 std
/// band of a grouped `aviary compare --x-axis simulated`. Runs that differ only by seed close
/// their rounds at different simulated times, so each run's curve is interpolated linearly onto
/// a common grid (every time at which any run of the group evaluated) and the runs are averaged
/// there. A run counts at time t only between its first and its last evaluation (never
/// extrapolated), so a point is the mean of the runs whose curve reaches it; the band needs two.
public struct TimeBand: Sendable, Equatable {
    public var time: Double
    public var stats: MeanStd

    /// `series`: one run's (time, value) points each. Non-finite values are left out of a run's
    /// curve (a diverged run stops contributing where it diverged, as in `RoundBand`).
    public static func bands(_ series: [[PlotPoint]]) -> [TimeBand] {
        let curves = series.map(curve)
        let grid = Set(curves.flatMap { $0.map(\.x) }).sorted()
        return grid.compactMap { t in
            MeanStd(curves.compactMap { value($0, at: t) }).map { TimeBand(time: t, stats: $0) }
        }
    }

    /// Finite points in time order; of several at one time, the last (a round that took no simulated time).
    static func curve(_ points: [PlotPoint]) -> [PlotPoint] {
        let finite = points.enumerated().filter { $0.element.x.isFinite && $0.element.y.isFinite }
        let ordered = finite.sorted { ($0.element.x, $0.offset) < ($1.element.x, $1.offset) }.map(\.element)
        var out: [PlotPoint] = []
        for p in ordered {
            if out.last?.x == p.x { out[out.count - 1] = p } else { out.append(p) }
        }
        return out
    }

    /// The curve's value at `t` by linear interpolation; nil outside its first..last time.
    static func value(_ curve: [PlotPoint], at t: Double) -> Double? {
        guard let first = curve.first, let last = curve.last, t >= first.x, t <= last.x else { return nil }
        // The first point at or after t (binary search: curves can have thousands of rounds).
        var lo = 0, hi = curve.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if curve[mid].x < t { lo = mid + 1 } else { hi = mid }
        }
        let b = curve[lo]
        if b.x == t || lo == 0 { return b.y }
        let a = curve[lo - 1]
        return a.y + (b.y - a.y) * (t - a.x) / (b.x - a.x)
    }
}
