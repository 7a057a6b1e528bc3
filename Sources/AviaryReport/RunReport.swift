import Foundation
import AviaryLog

/// `runs/<name>/report.html`: one self-contained page describing a run, built from
/// `aggregation.jsonl` alone (the log is the truth; nothing is recomputed or read elsewhere).
public struct RunReport: Sendable {
    public var log: AggregationLog
    /// Where the log was read from, shown in the page.
    public var source: String

    public init(log: AggregationLog, source: String) {
        self.log = log; self.source = source
    }

    /// Largest number of per-client rows in the last-round table; more are summarised.
    static let clientRowLimit = 200

    public func html() -> String {
        let name = log.runStart?.run ?? source
        var page = HTMLPage(title: "Aviary report: \(name)")
        page.heading("Run \(name)", level: 1)
        page.facts(headerFacts())
        for n in log.runStart?.notes ?? [] { page.paragraph("note: \(n)", className: "note") }
        for w in log.warnings { page.paragraph("warning: \(w)", className: "warn") }
        for n in log.notes where n.event == "merge_failed" {
            page.paragraph("round \(n.round.map(String.init) ?? "?"): merge failed: \(n.message)", className: "warn")
        }

        page.heading("Global model")
        page.figures([accuracyPlot().svg(), lossPlot().svg()])
        page.heading("Participation and update size")
        page.figures([participationPlot().svg(), updateNormPlot().svg()])
        systemSection(into: &page)
        page.heading("Merge weights")
        if let heatmap = weightsHeatmap() {
            page.figures([heatmap.svg()])
        } else {
            page.paragraph("no round merged any update", className: "note")
        }
        clientTable(into: &page)
        checkpointMergeTable(into: &page)
        page.heading("Partition")
        if let heatmap = partitionHeatmap() {
            page.figures([heatmap.svg()])
            if let stats = log.runStart?.partitionStats {
                page.paragraph("mean total variation from the global label distribution: \(Markup.fixed(stats.meanTotalVariation, decimals: 3))", className: "note")
            }
        } else {
            page.paragraph("run_start carries no partition statistics", className: "note")
        }
        configurationTable(into: &page)
        page.paragraph("source: \(source)", className: "note")
        return page.html()
    }

    func headerFacts() -> [(String, String)] {
        var rows: [(String, String)] = []
        if let s = log.runStart {
            rows.append(("run", s.run))
            // The experiment from the resolved configuration; older logs have only the summary fields.
            let experiment = ExperimentSummary.facts(s.config ?? [:])
            rows += experiment.isEmpty
                ? [("model", "\(s.model) (\(s.parameters) parameters)"), ("strategy", s.strategy),
                   ("data", "\(s.dataset) / \(s.partition)"),
                   ("seeds", "partition \(s.seeds.partition), sampling \(s.seeds.sampling), training \(s.seeds.training)"
                              + (s.seeds.system.map { ", system \($0)" } ?? "")),
                   ("clients", "\(s.clients) (\(s.clientsPerRound) per round)")]
                : experiment + [("parameters", "\(s.model), \(s.parameters) parameters")]
            rows += [("rounds", "\(log.runEnd?.roundsCompleted ?? log.rounds.count) of \(s.rounds)"),
                     ("started", s.time), ("aviary", s.aviaryVersion)]
        } else {
            rows.append(("run", "no run_start record in the log"))
        }
        if let end = log.runEnd {
            rows += [("status", end.status), ("duration", String(format: "%.1f s", end.durationSeconds))]
        } else {
            rows.append(("status", "no run_end yet (still running, or the server stopped without logging)"))
        }
        let final = FinalMetrics(log: log, path: source)
        rows.append(("final eval", "clean accuracy \(Markup.fixed(final.cleanAccuracy)), clean loss \(Markup.fixed(final.cleanLoss)), robust accuracy \(Markup.fixed(final.robustAccuracy))"))
        if let p = log.rounds.last(where: { $0.privacy != nil })?.privacy {
            let spent = p.epsilon.map { "ε = \(Markup.fixed($0, decimals: 3)) at δ = \(p.delta)" } ?? "ε not reported (\(p.unaccounted ?? "unbounded"))"
            rows.append(("privacy", "\(p.mode) DP, \(spent) after round \(log.rounds.last!.round); clip norm \(Markup.fixed(p.clipNorm, decimals: 4))"))
        }
        if let line = log.runEnd?.privacy.flatMap(PrivacySummary.line) { rows.append(("per-client ε", line)) }
        if let why = log.runEnd?.stopReason { rows.append(("stopped", why)) }
        return rows
    }

    func clientTable(into page: inout HTMLPage) {
        guard let last = log.rounds.last else { return }
        page.heading("Clients in the last round (\(last.round))")
        var status: [Int: String] = [:]
        for c in last.sampled { status[c] = "no reply" }
        for c in last.system?.stragglers ?? [] { status[c] = "straggler (simulated clock)" }
        for c in last.timedOut { status[c] = "timed out" }
        for x in last.failed { status[x.client] = "failed: \(x.reason)" }
        for x in last.rejected { status[x.client] = "rejected: \(x.reason)" }
        for c in last.accepted { status[c] = "accepted" }
        for k in last.clientMetrics.keys { if let c = Int(k), status[c] == nil { status[c] = "reported" } }
        let preferred = ["samples", "train_loss", "adv_loss"]
        let others = Set(last.clientMetrics.values.flatMap(\.keys)).subtracting(preferred).sorted()
        let keys = preferred + others
        let clients = status.keys.sorted()
        let formats = keys.map(ColumnFormat.forMetric)
        let rows = clients.prefix(Self.clientRowLimit).map { c -> [String] in
            let m = last.clientMetrics[String(c)] ?? [:]
            return [String(c), status[c]!, ColumnFormat.weight.format(last.weights[String(c)])]
                + zip(keys, formats).map { $1.format(m[$0]) }
        }
        var footer: [[String]] = []
        if !last.clientMetrics.isEmpty {
            // Same format as the column above (a count's mean is rounded), so the column lines up.
            let mean = zip(keys, formats).map { k, f -> String in
                let vs = last.clientMetrics.values.compactMap { $0[k] }.filter(\.isFinite)
                return vs.isEmpty ? "-" : f.format(vs.reduce(0, +) / Double(vs.count))
            }
            footer.append(["mean", "\(last.accepted.count) of \(last.sampled.count) accepted", "-"] + mean)
        }
        let headers = keys.map { $0.hasPrefix("global_val_") ? "\($0) (model received)" : $0 }
        page.table(header: ["client", "status", "weight"] + headers, rows: rows, footer: footer)
        if keys.contains(where: { $0.hasPrefix("global_val_") }) {
            page.paragraph("model received: the global model each client received in round \(last.round) (round \(last.round - 1)'s merge), on its own validation split before local training", className: "note")
        }
        if clients.count > Self.clientRowLimit {
            page.paragraph("showing \(Self.clientRowLimit) of \(clients.count) clients (lowest indices); the mean covers all", className: "note")
        }
    }

    /// Every key of the resolved topology (`run_start.config`), defaults included; keys that
    /// take no effect under the others say which setting switches them off.
    func configurationTable(into page: inout HTMLPage) {
        guard let config = log.runStart?.config, !config.isEmpty else { return }
        page.heading("Configuration")
        let inactive = ConfigEffect.inactive(config)
        page.table(header: ["key", "value", "effect"], rows: config.keys.sorted().map { k in
            [k, config[k]!.description, inactive[k].map { "none (\($0))" } ?? ""]
        })
    }

    func checkpointMergeTable(into page: inout HTMLPage) {
        let merges = log.checkpointMerges
        guard !merges.isEmpty else { return }
        page.heading("Checkpoint merges")
        let f = ColumnFormat.metric
        let rows = merges.map { m -> [String] in
            let delta = m.lastEval.map { m.eval.cleanAccuracy - $0.cleanAccuracy }
            return [String(m.round), m.rounds.map(String.init).joined(separator: ","), "\(m.metric), p=\(Markup.value(m.penalty))",
                    f.format(m.eval.cleanAccuracy), f.format(m.lastEval?.cleanAccuracy), ColumnFormat.signed(4).format(delta),
                    f.format(m.eval.cleanLoss), f.format(m.lastEval?.cleanLoss),
                    f.format(m.eval.robustAccuracy), f.format(m.lastEval?.robustAccuracy)]
        }
        page.table(header: ["round", "merged rounds", "weighting", "merged acc", "round's acc", "Δ acc",
                            "merged loss", "round's loss", "merged robust", "round's robust"], rows: rows)
    }
}
