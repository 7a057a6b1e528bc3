import Foundation
import AviaryLog

/// The simulated-time section of a buffered run (`[server] mode = "buffered"`): rounds are server
/// updates, so there are no stragglers or offline counts to show; the section shows accuracy
/// against simulated time, the simulated time between updates and the buffers' staleness.
extension RunReport {
    /// Rounds whose `system` record holds a server update, in order.
    var bufferedUpdates: [(record: RoundRecord, update: BufferedUpdateRecord)] {
        log.rounds.compactMap { r in r.system?.buffered.map { (r, $0) } }
    }

    func bufferedSection(into page: inout HTMLPage) {
        let updates = bufferedUpdates
        guard let last = updates.last else { return }
        // `[server] clock = "wall"`: the same section, its times wall seconds since the start.
        let wall = last.update.clock == "wall"
        page.heading(wall ? "Wall-clock time (not reproducible)" : "Simulated time")
        page.figures([accuracyBySimulatedTimePlot().svg(), updateIntervalPlot().svg(), stalenessPlot().svg()])
        let kept = updates.flatMap { $0.update.updates.filter { $0.missing == nil } }
        let discarded = updates.reduce(0) { $0 + ($1.update.discarded?.count ?? 0) }
        let missing = updates.reduce(0) { $0 + $1.update.updates.filter { $0.missing != nil }.count }
        let meanStaleness = kept.isEmpty ? 0 : Double(kept.reduce(0) { $0 + $1.staleness }) / Double(kept.count)
        var text = (wall ? "wall clock" : "simulated clock") + " after server update \(last.update.version): \(Self.simulatedDuration(last.update.clockSeconds)); "
            + "\(updates.count) server update\(updates.count == 1 ? "" : "s") merged \(kept.count) client update\(kept.count == 1 ? "" : "s")"
            + String(format: ", mean staleness %.2f versions", meanStaleness)
        if discarded > 0 { text += "; \(discarded) discarded as over-stale" }
        if missing > 0 { text += "; \(missing) missing" }
        page.paragraph(text, className: "note")
    }

    /// Simulated seconds from the previous server update (or the run's start) to each update.
    func updateIntervalPlot() -> LinePlot {
        var previous = 0.0
        let points = bufferedUpdates.map { r -> PlotPoint in
            defer { previous = r.update.clockSeconds }
            return PlotPoint(x: Double(r.update.version), y: r.update.clockSeconds - previous)
        }
        return LinePlot(title: "Simulated time between server updates", xLabel: "server update (version)", yLabel: "simulated seconds",
                        series: [.init(name: "since the previous update (the K-th kept arrival)",
                                       color: PlotPalette.color(.updateNorm), points: points)])
    }

    /// Mean and largest staleness of each buffer's merged updates.
    func stalenessPlot() -> LinePlot {
        var mean: [PlotPoint] = [], largest: [PlotPoint] = []
        for r in bufferedUpdates {
            let s = r.update.updates.filter { $0.missing == nil }.map { Double($0.staleness) }
            guard !s.isEmpty else { continue }
            let x = Double(r.update.version)
            mean.append(PlotPoint(x: x, y: s.reduce(0, +) / Double(s.count)))
            largest.append(PlotPoint(x: x, y: s.max()!))
        }
        return LinePlot(title: "Staleness per server update", xLabel: "server update (version)", yLabel: "versions behind",
                        series: [.init(name: "mean staleness", color: PlotPalette.color(.cleanAccuracy), points: mean),
                                 .init(name: "largest staleness", color: PlotPalette.color(.robustAccuracy), points: largest, dashed: true)])
    }
}
