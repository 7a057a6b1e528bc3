import Foundation
import AviaryLog

/// `aviary logs`' text and CSV: the run header, one row per round, the end line.
public enum LogTable {
    /// Default line width: fits a 100-column terminal without wrapping.
    public static let width = 100

    /// The per-client figures are measured before local training, on the model the client received.
    public static let legend = "(client acc: the global model each client received — the previous round's — on its own test split, before local training)"

    /// A log without `run_end`: the server crashed, was killed, or is still writing.
    public static func incomplete(directory: String) -> String {
        "incomplete (no run_end: crashed or still running; resume with `aviary run --resume \(directory)`)"
    }

    /// The lines above the table: what experiment this is (from `run_start.config`: data,
    /// model, training, aggregation, seeds; each said once), the run's name and size, partition
    /// notes, wrapped to `width`. Logs written before `config` existed get the older lines.
    public static func runHeader(_ log: AggregationLog, width: Int = width) -> [String] {
        guard let s = log.runStart else { return [] }
        let run = "run \(s.run): \(s.model) (\(plural(s.parameters, "parameter"))), \(s.strategy)"
        let lines: [String]
        if let experiment = ExperimentSummary.line(s.config) {
            lines = [experiment, run]
        } else {
            lines = [run, "data: \(s.dataset) / \(s.partition), \(plural(s.clients, "client")) (\(s.clientsPerRound) per round)",
                     "seeds: partition \(s.seeds.partition), sampling \(s.seeds.sampling), training \(s.seeds.training)"]
        }
        return (lines + s.notes.map { "note: \($0)" }).map { wrap($0, width: width, indent: "  ") }
    }

    /// Why a round kept the model: its first rejection (and how many more), or the failures.
    public static func nothingMerged(_ r: RoundRecord) -> String? {
        if let first = r.rejected.first {
            return "client \(first.client): \(first.reason)" + (r.rejected.count > 1 ? " (and \(r.rejected.count - 1) more rejected)" : "")
        }
        if let first = r.failed.first { return "client \(first.client) failed: \(first.reason)" }
        if !r.timedOut.isEmpty || !(r.lost ?? []).isEmpty { return "no sampled client answered in time" }
        if let s = r.system, !s.stragglers.isEmpty { return "\(s.stragglers.count) of \(r.sampled.count) sampled clients straggled on the simulated clock" }
        return nil
    }

    /// A `[merge.checkpoints]` merge, under its round: what it merged and how the merged model
    /// scored beside the round's own.
    public static func checkpointMergeLine(_ m: CheckpointMergeRecord) -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
        let contiguous = m.rounds.count > 1 && m.rounds.last! - m.rounds.first! == m.rounds.count - 1
        let rounds = contiguous ? "\(m.rounds.first!)-\(m.rounds.last!)" : m.rounds.map(String.init).joined(separator: ",")
        var line = "       checkpoint merge of rounds \(rounds) (\(m.metric), p=\(ConfigValue.double(m.penalty))): "
            + "accuracy \(f(m.eval.cleanAccuracy)) (round's \(f(m.lastEval?.cleanAccuracy))), loss \(f(m.eval.cleanLoss))"
        if m.eval.robustAccuracy != nil { line += ", robust \(f(m.eval.robustAccuracy)) (round's \(f(m.lastEval?.robustAccuracy)))" }
        return line
    }

    /// The server's own time over the run's wall time: `server_seconds` (clients waiting for the
    /// server) plus `persist_seconds` (checkpoint, log and run-state writes). Only for logs that
    /// record `persist_seconds`.
    public static func overheadLine(_ log: AggregationLog) -> String? {
        guard let end = log.runEnd, end.durationSeconds > 0,
              log.rounds.contains(where: { $0.persistSeconds != nil }) || end.persistSeconds != nil else { return nil }
        let server = log.rounds.compactMap(\.serverSeconds).reduce(0, +)
        let persist = log.rounds.compactMap(\.persistSeconds).reduce(0, +) + (end.persistSeconds ?? 0)
        return String(format: "server overhead: %.2f s server_seconds + %.2f s persist_seconds = %.1f %% of %.1f s",
                      server, persist, 100 * (server + persist) / end.durationSeconds, end.durationSeconds)
    }

    public static func endLine(_ end: RunEndRecord) -> String {
        "end: \(end.status), \(plural(end.roundsCompleted, "round")) in \(RunSummary.duration(end.durationSeconds))"
            + (end.stopReason.map { "\n     " + $0 } ?? "")
            + (RunSummary.population(end).map { "\n     " + $0 } ?? "")
            + (end.privacy.flatMap(PrivacySummary.line).map { "\n     " + $0 } ?? "")
    }

    /// What `aviary logs` prints without --follow: header, status when incomplete, one row per
    /// round (with a line where the run was resumed), and the end line.
    public static func text(_ log: AggregationLog, directory: String, round: Int? = nil, weights: Bool = false, wide: Bool = false) -> String {
        let width = wide ? Int.max : Self.width
        var lines = runHeader(log, width: width)
        if log.runEnd == nil { lines.append(wrap("status: " + incomplete(directory: directory), width: width, indent: "  ")) }
        lines.append((wide ? wideHeader : header) + (log.rounds.contains { $0.system != nil } ? simHeader : "")
                     + (log.rounds.contains { $0.privacy != nil } ? privacyHeader : ""))
        lines.append(wrap(legend, width: width, indent: " "))
        for record in log.records {
            switch record {
            case let .round(r) where round == nil || r.round == round:
                lines.append(wide ? wideRow(r) : row(r))
                if let buffered = bufferedLine(r) { lines.append("       " + wrap(buffered, width: width - 7, indent: "         ")) }
                if let secure = secAggLine(r) { lines.append("       " + wrap(secure, width: width - 7, indent: "         ")) }
                if r.modelKept, let why = nothingMerged(r) {
                    lines.append(wrap("       merged nothing: " + why, width: width, indent: "         "))
                }
                if weights { lines.append(self.weights(r, width: width)) }
            case let .checkpointMerge(m) where round == nil || m.round == round:
                lines.append(wrap(checkpointMergeLine(m), width: width, indent: "         "))
            case let .resumed(r) where round == nil:
                lines.append(wrap("       resumed after round \(r.fromRound) (\(r.reason))"
                                  + (r.cut.isEmpty ? "" : "; cut from the log: " + r.cut.map(\.description).joined(separator: ", ")),
                                  width: width, indent: "         "))
            default:
                break
            }
        }
        if let end = log.runEnd {
            lines.append(endLine(end))
            if let overhead = overheadLine(log) { lines.append("     " + overhead) }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// Column widths of the default table; header and rows are built from the same list.
    private static let widths = [5, 9, 3, 3, 4, 8, 6, 6, 7, 5]

    private static func columns(_ cells: [String], widths: [Int] = widths) -> String {
        zip(cells, widths).map { cell, width in
            String(repeating: " ", count: max(0, width - cell.count)) + cell
        }.joined(separator: "  ")
    }

    public static let header = columns(["round", "clients", "rej", "t/o", "lost", "accuracy", "loss", "robust", "|Δ|", "sec"])
        + "  client acc min/mean"

    /// ‖Δ‖ at one precision in every row, so the column reads as numbers of one kind.
    static func norm(_ x: Double) -> String { String(format: "%.4f", x) }

    /// 74 columns; fairness adds 13 and the simulated clock's cell 11, the model-kept mark 6.
    /// The header's fairness label is longer (21), so header and rows fit 100 columns.
    /// `clients` is merged/sampled; `lost` counts sampled clients whose process was lost.
    public static func row(_ r: RoundRecord) -> String {
        columns([String(r.round), String(format: "%4d/%-4d", r.accepted.count, r.sampled.count),
                 String(r.rejected.count), String(r.timedOut.count), String(r.lost?.count ?? 0),
                 r.eval.map { String(format: "%.4f", $0.cleanAccuracy) } ?? "-",
                 r.eval.map { String(format: "%.4f", $0.cleanLoss) } ?? "-",
                 r.eval?.robustAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                 norm(r.updateNorm), String(format: "%.2f", r.durationSeconds)])
            + (r.fairness.map { String(format: "  %.3f/%.3f", $0.min, $0.mean) } ?? "")
            + simCell(r) + privacyCell(r) + (r.modelKept ? "  kept" : "")
    }

    /// Column widths of `--wide`: its header spells each label out; header and rows are built
    /// from this list, as the default table's are, so they stay aligned.
    private static let wideWidths = [5, 9, 8, 9, 4, 8, 7, 6, 10, 7]

    public static let wideHeader = columns(["round", "clients", "rejected", "timed-out", "lost", "accuracy", "loss", "robust", "|Δ|", "seconds"],
                                           widths: wideWidths)

    public static func wideRow(_ r: RoundRecord) -> String {
        columns([String(r.round), String(format: "%4d/%-4d", r.accepted.count, r.sampled.count),
                 String(r.rejected.count), String(r.timedOut.count), String(r.lost?.count ?? 0),
                 r.eval.map { String(format: "%.4f", $0.cleanAccuracy) } ?? "-",
                 r.eval.map { String(format: "%.4f", $0.cleanLoss) } ?? "-",
                 r.eval?.robustAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                 norm(r.updateNorm), String(format: "%.2f", r.durationSeconds)], widths: wideWidths)
            + (r.fairness.map { String(format: "  client acc min %.3f mean %.3f", $0.min, $0.mean) } ?? "")
            + simCell(r) + privacyCell(r) + (r.modelKept ? "  (model kept)" : "")
    }

    public static let csvHeader = "round,sampled,accepted,rejected,timed_out,failed,lost,clean_accuracy,clean_loss,robust_accuracy,update_norm,duration_seconds,client_acc_mean,client_acc_min,client_acc_worst10,model_kept,sim_round_seconds,sim_clock_seconds,offline,stragglers,merged_rounds,merged_clean_accuracy,merged_clean_loss,merged_robust_accuracy,epsilon,delta,clip_norm,run_status"

    /// The simulated clock (`[system]` runs): header and cell, after the fairness column. Each
    /// cell names itself ("sim 16.6m") so the header stays within `width`.
    public static let simHeader = "  sim"
    public static func simCell(_ r: RoundRecord) -> String {
        guard let s = r.system else { return "" }
        let c = s.clockSeconds
        let text = c < 100 ? String(format: "%.1fs", c) : c < 6000 ? String(format: "%.1fm", c / 60) : String(format: "%.1fh", c / 3600)
        return "  sim " + text
    }

    /// `[secagg]` rounds: one line under the row, e.g. "secagg k 10 t 6: survivors 20/20/17/17
    /// of 20, 3.2 MB up, 0.4 MB down, stages 1.84/0.02/0.31/0.05 s".
    public static func secAggLine(_ r: RoundRecord) -> String? {
        guard let s = r.secagg else { return nil }
        func mb(_ bytes: [Int]) -> String { String(format: "%.1f MB", Double(bytes.reduce(0, +)) / 1e6) }
        let parameters = s.neighbours.map { "k \($0) t \(s.threshold ?? 0)" } ?? "refused"
        return "secagg \(parameters): survivors \(s.survivors.map(String.init).joined(separator: "/")) of \(s.participants), "
            + "\(mb(s.stageBytesUp)) up, \(mb(s.stageBytesDown)) down, stages "
            + s.stageSeconds.map { String(format: "%.2f", $0) }.joined(separator: "/") + " s"
            + (s.failure.map { "; failed: " + $0 } ?? "")
    }

    /// `[privacy]` runs: ε spent so far after the round ("ε 1.84"; "ε -" when not reported).
    public static let privacyHeader = "  ε so far"
    public static func privacyCell(_ r: RoundRecord) -> String {
        guard let p = r.privacy else { return "" }
        return "  ε " + (p.epsilon.map { String(format: $0 < 100 ? "%.3f" : "%.4g", $0) } ?? "-")
    }

    /// The run's status as one CSV token: `completed`, `degraded` (completed with too many rounds
    /// unmerged or clients lost), `failed` (run_end with another status) or `incomplete` (no
    /// run_end: crashed or still running).
    public static func csvStatus(_ log: AggregationLog) -> String {
        guard let end = log.runEnd else { return "incomplete" }
        if end.status == "completed" { return "completed" }
        return end.status.hasPrefix("degraded") ? "degraded" : "failed"
    }

    /// One line per round; empty fields where a value was not measured that round. The last
    /// column repeats the run's status on every row, so a concatenation of runs stays readable.
    public static func csv(_ log: AggregationLog, round: Int? = nil) -> String {
        func f(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        let status = csvStatus(log)
        var merges: [Int: CheckpointMergeRecord] = [:]
        for m in log.checkpointMerges { merges[m.round] = m }
        var out = csvHeader + "\n"
        for r in log.rounds where round == nil || r.round == round {
            let m = merges[r.round]
            let base: [String] = [String(r.round), String(r.sampled.count), String(r.accepted.count), String(r.rejected.count),
                          String(r.timedOut.count), String(r.failed.count), String(r.lost?.count ?? 0), f(r.eval?.cleanAccuracy), f(r.eval?.cleanLoss),
                          f(r.eval?.robustAccuracy), f(r.updateNorm), f(r.durationSeconds), f(r.fairness?.mean),
                          f(r.fairness?.min), f(r.fairness?.worst10Mean), r.modelKept ? "true" : "false"]
            let mergedRounds: String = m.map { $0.rounds.map(String.init).joined(separator: " ") } ?? ""
            let fields = base + simulatedFields(r)
                + [mergedRounds, f(m?.eval.cleanAccuracy), f(m?.eval.cleanLoss), f(m?.eval.robustAccuracy)]
                + [f(r.privacy?.epsilon), f(r.privacy?.delta), f(r.privacy?.clipNorm), status]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    /// `sim_round_seconds,sim_clock_seconds,offline,stragglers`: empty without `[system]`.
    public static func simulatedFields(_ r: RoundRecord) -> [String] {
        guard let s = r.system else { return ["", "", "", ""] }
        return [String(s.roundSeconds), String(s.clockSeconds), String(s.offlineCount), String(s.stragglers.count)]
    }

    public static func weights(_ r: RoundRecord, width: Int = .max) -> String {
        let parts = r.weights.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key):\(String(format: "%.3f", $0.value))" }
        var lines = [wrap("       weights " + parts.joined(separator: " "), width: width, indent: String(repeating: " ", count: 15))]
        for x in r.rejected { lines.append(wrap("       rejected \(x.client): \(x.reason)", width: width, indent: "         ")) }
        for x in r.failed { lines.append(wrap("       failed \(x.client): \(x.reason)", width: width, indent: "         ")) }
        return lines.joined(separator: "\n")
    }

    /// Breaks `line` at spaces so no piece is wider than `width`; continuation lines start with
    /// `indent`. A single word longer than the width stays whole.
    public static func wrap(_ line: String, width: Int, indent: String) -> String {
        guard line.count > width else { return line }
        var out: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if candidate.count > width && !current.trimmingCharacters(in: .whitespaces).isEmpty {
                out.append(current)
                current = indent + word
            } else {
                current = candidate
            }
        }
        out.append(current)
        return out.joined(separator: "\n")
    }
}
