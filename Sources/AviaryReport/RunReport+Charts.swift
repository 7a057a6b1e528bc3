import Foundation
import AviaryLog

/// The report's charts, each a plain function of the log.
extension RunReport {
    /// The clients' accuracy at round r is measured on the model they received at r, which is
    /// round r−1's merge (before local training), so the legend says so rather than shifting it.
    static let clientMeanLabel = "client mean on own test split, model received at r (round r−1's)"
    static let worst10Label = "worst 10% of clients, same model (round r−1's)"

    func accuracyPlot() -> LinePlot {
        let evals = log.rounds.compactMap { r in r.eval.map { (round: Double(r.round), eval: $0) } }
        var series = [LinePlot.Series(name: "clean accuracy", color: PlotPalette.color(.cleanAccuracy), points: evals.map { PlotPoint(x: $0.round, y: $0.eval.cleanAccuracy) })]
        let robust = evals.compactMap { e in e.eval.robustAccuracy.map { PlotPoint(x: e.round, y: $0) } }
        if !robust.isEmpty { series.append(.init(name: "robust accuracy", color: PlotPalette.color(.robustAccuracy), points: robust)) }
        // The received global model (the previous round's) on the answering clients' own test
        // splits, measured before local training (fairness); the label says so.
        let fair = log.rounds.compactMap { r in r.fairness.map { (round: Double(r.round), f: $0) } }
        if !fair.isEmpty {
            series.append(.init(name: Self.clientMeanLabel, color: PlotPalette.color(.clientMean), points: fair.map { PlotPoint(x: $0.round, y: $0.f.mean) }, dashed: true))
            series.append(.init(name: Self.worst10Label, color: PlotPalette.color(.worst10), points: fair.map { PlotPoint(x: $0.round, y: $0.f.worst10Mean) }, dashed: true))
        }
        let merges = log.checkpointMerges
        if !merges.isEmpty {
            series.append(.init(name: "checkpoint merge (clean accuracy)", color: PlotPalette.color(.checkpointMerge), points: merges.map { PlotPoint(x: Double($0.round), y: $0.eval.cleanAccuracy) }, dashed: true))
        }
        return LinePlot(title: "Accuracy per round", xLabel: "round", yLabel: "accuracy", series: series)
    }

    func lossPlot() -> LinePlot {
        let points = log.rounds.compactMap { r in r.eval.map { PlotPoint(x: Double(r.round), y: $0.cleanLoss) } }
        return LinePlot(title: "Clean loss per round", xLabel: "round", yLabel: "loss",
                        series: [.init(name: "clean loss", color: PlotPalette.color(.cleanLoss), points: points)])
    }

    func updateNormPlot() -> LinePlot {
        let points = log.rounds.map { PlotPoint(x: Double($0.round), y: $0.modelKept ? .nan : $0.updateNorm) }
        return LinePlot(title: "Update norm per round", xLabel: "round", yLabel: "‖merged Δ‖₂",
                        series: [.init(name: "update norm (gaps: model kept or non-finite)", color: PlotPalette.color(.updateNorm), points: points)])
    }

    func participationPlot() -> StackedBarPlot {
        let bars = log.rounds.map {
            StackedBarPlot.Bar(x: Double($0.round), values: [Double($0.accepted.count), Double($0.rejected.count),
                                                            Double($0.timedOut.count), Double($0.failed.count)])
        }
        return StackedBarPlot(title: "Participation per round", xLabel: "round", yLabel: "clients",
                              categories: [("accepted", PlotPalette.color(.accepted)), ("rejected", PlotPalette.color(.rejected)),
                                           ("timed out", PlotPalette.color(.timedOut)), ("failed", PlotPalette.color(.failed))],
                              bars: bars)
    }

    /// Clients × rounds; only clients that were ever merged get a row.
    func weightsHeatmap() -> Heatmap? {
        let rounds = log.rounds
        let clients = Set(rounds.flatMap { $0.weights.keys.compactMap { Int($0) } }).sorted()
        guard !clients.isEmpty else { return nil }
        let values = clients.map { c in rounds.map { $0.weights[String(c)] } }
        // Neutral = the uniform share 1/n of that round, n = the clients it merged.
        let uniform = rounds.map { r in r.weights.isEmpty ? Double.nan : 1 / Double(r.weights.count) }
        let total = log.runStart?.clients
        let title = "Merge weights: \(clients.count)\(total.map { " of \($0)" } ?? "") clients × \(rounds.count) rounds"
        return Heatmap(title: title, rowName: "client", columnName: "round",
                       rowLabels: clients.map(String.init), columnLabels: rounds.map { String($0.round) },
                       values: values, valueName: "merge weight ÷ 1/n (n = clients merged that round; blank: not merged)",
                       scale: .diverging(centers: uniform))
    }

    /// Clients × classes; a cell is the class's share of that client's samples.
    func partitionHeatmap() -> Heatmap? {
        guard let stats = log.runStart?.partitionStats, !stats.labelHistograms.isEmpty else { return nil }
        return PartitionHeatmap.heatmap(labelHistograms: stats.labelHistograms)
    }
}
