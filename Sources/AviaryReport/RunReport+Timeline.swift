import Foundation
import AviaryLog

/// The simulated clock's section of the report (`[system]` runs): a timeline of simulated round
/// durations, stragglers and offline clients, and accuracy against simulated time.
extension RunReport {
    /// Rounds carrying a `system` record, in order.
    var simulatedRounds: [(record: RoundRecord, system: SystemRoundRecord)] {
        log.rounds.compactMap { r in r.system.map { (r, $0) } }
    }

    func systemSection(into page: inout HTMLPage) {
        let rounds = simulatedRounds
        guard let last = rounds.last else { return }
        guard !rounds.contains(where: { $0.system.buffered != nil }) else { return bufferedSection(into: &page) }
        page.heading("Simulated time")
        page.figures([accuracyBySimulatedTimePlot().svg(), simulatedDurationPlot().svg(), stragglerPlot().svg()])
        let stragglers = rounds.reduce(0) { $0 + $1.system.stragglers.count }
        let late = rounds.reduce(0) { $0 + ($1.system.staleMerged?.count ?? 0) }
        page.paragraph("simulated clock after round \(last.record.round): \(Self.simulatedDuration(last.system.clockSeconds)); "
                       + "\(stragglers) straggler\(stragglers == 1 ? "" : "s") in \(rounds.count) rounds"
                       + (late > 0 ? "; \(late) late update\(late == 1 ? "" : "s") merged with a staleness weight" : ""),
                       className: "note")
    }

    /// "950 s", "42.5 min", "3.2 h".
    static func simulatedDuration(_ s: Double) -> String {
        s < 600 ? String(format: "%.0f s", s) : s < 36_000 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
    }

    func accuracyBySimulatedTimePlot() -> LinePlot {
        let evals = simulatedRounds.compactMap { r in r.record.eval.map { (t: r.system.clockSeconds, eval: $0) } }
        let unit = SimulatedTimeUnit(covering: simulatedRounds.last?.system.clockSeconds ?? 0)
        let scale = unit.seconds
        var series = [LinePlot.Series(name: "clean accuracy", color: PlotPalette.color(.cleanAccuracy),
                                      points: evals.map { PlotPoint(x: $0.t / scale, y: $0.eval.cleanAccuracy) })]
        let robust = evals.compactMap { e in e.eval.robustAccuracy.map { PlotPoint(x: e.t / scale, y: $0) } }
        if !robust.isEmpty { series.append(.init(name: "robust accuracy", color: PlotPalette.color(.robustAccuracy), points: robust)) }
        return LinePlot(title: "Accuracy against simulated time", xLabel: unit.label,
                        yLabel: "accuracy", series: series, integerX: false)
    }

    func simulatedDurationPlot() -> LinePlot {
        let points = simulatedRounds.map { PlotPoint(x: Double($0.record.round), y: $0.system.roundSeconds) }
        return LinePlot(title: "Simulated round duration", xLabel: "round", yLabel: "simulated seconds",
                        series: [.init(name: "round duration (deadline, k-th arrival or last arrival)",
                                       color: PlotPalette.color(.updateNorm), points: points)])
    }

    func stragglerPlot() -> StackedBarPlot {
        let bars = simulatedRounds.map {
            StackedBarPlot.Bar(x: Double($0.record.round), values: [Double($0.system.stragglers.count), Double($0.system.offlineCount)])
        }
        return StackedBarPlot(title: "Stragglers and offline clients per round", xLabel: "round", yLabel: "clients",
                              categories: [("stragglers (sampled, missed the close)", PlotPalette.color(.timedOut)),
                                           ("offline (not sampled)", PlotPalette.color(.failed))],
                              bars: bars)
    }
}
