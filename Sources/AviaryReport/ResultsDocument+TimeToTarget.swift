import Foundation

extension ResultsDocument {
    /// A study's time-to-target table (`time_to_target = true` in the plan): the target is the
    /// baseline row's final clean accuracy (mean over its seeds), and each row says how many of its runs reached it on the
    /// simulated clock, how soon (mean ± std over those that did), that mean as a multiple of
    /// the baseline's, and the server's share of the runs' wall time. nil without a baseline
    /// row or clock.
    func timeToTargetTable(_ s: Study) -> String? {
        guard let baseline = s.baseline, let base = s.groups.first(where: { $0.label == baseline }),
              let target = base.summary.finalClean?.mean, !base.summary.simulatedCurves.isEmpty else { return nil }
        let baseTime = TimeToTarget(curves: base.summary.simulatedCurves, target: target).seconds?.mean
        var md = "Simulated time to the baseline's accuracy: the first evaluation at or above "
        md += String(format: "%.3f", target) + " (**\(baseline)**'s final clean accuracy, mean over its seeds); "
        md += "the time is the mean ± std over the runs that reached it, and × baseline that mean over the baseline's. "
        md += "Server share: the rounds' `server_seconds` (merge, evaluation, next sampling) plus `persist_seconds` (checkpoint, log and run-state writes, where logged) over the run's wall time.\n\n"
        md += "| setting | reached | simulated time to target | × baseline | server share of wall time |\n|---|---:|---:|---:|---:|\n"
        for g in s.groups {
            let t = TimeToTarget(curves: g.summary.simulatedCurves, target: target)
            let name = g.label == baseline ? "**\(g.label)** (baseline)" : g.label
            let time = t.seconds.map { String(format: "%.1f ± %.1f min", $0.mean / 60, ($0.std ?? 0) / 60) } ?? "not reached"
            let ratio = zip(t.seconds?.mean, baseTime).map { a, b in b > 0 ? String(format: "%.2f", a / b) : "-" } ?? "-"
            let share = g.summary.serverShare.map { String(format: "%.1f %% ± %.1f", 100 * $0.mean, 100 * ($0.std ?? 0)) } ?? "-"
            md += "| \(name) | \(t.reached)/\(t.runs) | \(time) | \(ratio) | \(share) |\n"
        }
        return md
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
