import ArgumentParser
import Foundation
import AviaryLog

/// `aviary logs runs/<name>`: the aggregation log as a table, straight from aggregation.jsonl.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show a run's aggregation log: one row per round, with merge weights on request.")

    @Argument(help: "Run directory (runs/<name>) or its aggregation.jsonl.")
    var directory: String

    @Flag(help: "Show each round's merge weights per client.")
    var weights = false

    @Flag(help: "Keep reading as rounds are appended (Ctrl-C to stop).")
    var follow = false

    @Option(help: "Show only round N.")
    var round: Int?

    @Flag(help: "Print one CSV row per round instead (for pandas, R, a spreadsheet).")
    var csv = false

    func validate() throws {
        if csv && (follow || weights) { throw ValidationError("--csv cannot be combined with --follow or --weights") }
    }

    func run() throws {
        let path = directory.hasSuffix(".jsonl") ? directory : RunDirectory(path: directory).log
        let parent = (path as NSString).deletingLastPathComponent
        let runDirectory = directory.hasSuffix(".jsonl") ? (parent.isEmpty ? "." : parent) : directory
        if csv {
            do { print(LogTable.csv(try AggregationLog.read(path: path), round: round), terminator: "") }
            catch { throw fail(error) }
            return
        }
        if !follow {
            let log: AggregationLog
            do { log = try AggregationLog.read(path: path) } catch { throw fail(error) }
            print(LogTable.text(log, directory: runDirectory, round: round, weights: weights), terminator: "")
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            return
        }
        var shown = 0
        var headerPrinted = false
        while true {
            let log: AggregationLog
            do { log = try AggregationLog.read(path: path) } catch { throw fail(error) }
            if !headerPrinted {
                for line in LogTable.runHeader(log) { print(line) }
                print(LogTable.header)
                headerPrinted = true
            }
            let rounds = log.rounds.filter { round == nil || $0.round == round }
            for r in rounds.dropFirst(shown) {
                print(LogTable.row(r))
                if weights { print(LogTable.weights(r)) }
            }
            shown = rounds.count
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if let end = log.runEnd {
                print(LogTable.endLine(end))
                return
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

enum LogTable {
    /// A log without `run_end`: the server crashed, was killed, or is still writing.
    static func incomplete(directory: String) -> String {
        "incomplete (no run_end: crashed or still running; resume with `aviary run --resume \(directory)`)"
    }

    /// The lines above the table: run summary, seeds, partition notes.
    static func runHeader(_ log: AggregationLog) -> [String] {
        guard let s = log.runStart else { return [] }
        return ["run \(s.run): \(s.model) (\(s.parameters) parameters), \(s.strategy), \(s.dataset) / \(s.partition), \(s.clients) clients (\(s.clientsPerRound) per round)",
                "seeds: partition \(s.seeds.partition), sampling \(s.seeds.sampling), training \(s.seeds.training)"]
            + s.notes.map { "note: \($0)" }
    }

    static func endLine(_ end: RunEndRecord) -> String {
        "end: \(end.status), \(end.roundsCompleted) rounds in \(String(format: "%.1f", end.durationSeconds)) s"
    }

    /// What `aviary logs` prints without --follow: header, status when incomplete, one row per
    /// round (with a line where the run was resumed), and the end line.
    static func text(_ log: AggregationLog, directory: String, round: Int? = nil, weights: Bool = false) -> String {
        var lines = runHeader(log)
        if log.runEnd == nil { lines.append("status: " + incomplete(directory: directory)) }
        lines.append(header)
        for record in log.records {
            switch record {
            case let .round(r) where round == nil || r.round == round:
                lines.append(row(r))
                if weights { lines.append(self.weights(r)) }
            case let .resumed(r) where round == nil:
                lines.append("       resumed after round \(r.fromRound) (\(r.reason))"
                             + (r.cut.isEmpty ? "" : "; cut from the log: " + r.cut.map(\.description).joined(separator: ", ")))
            default:
                break
            }
        }
        if let end = log.runEnd { lines.append(endLine(end)) }
        return lines.map { $0 + "\n" }.joined()
    }

    static let header = "round  clients  rejected  timed-out  accuracy    loss  robust   |Δ|      seconds"

    static func row(_ r: RoundRecord) -> String {
        let acc = r.eval.map { String(format: "%.4f", $0.cleanAccuracy) } ?? "     -"
        let loss = r.eval.map { String(format: "%7.4f", $0.cleanLoss) } ?? "      -"
        let robust = r.eval?.robustAccuracy.map { String(format: "%.4f", $0) } ?? "     -"
        return String(format: "%5d  %3d/%-3d  %8d  %9d  ", r.round, r.accepted.count, r.sampled.count, r.rejected.count, r.timedOut.count)
            + "\(acc)  \(loss)  \(robust)  " + String(format: "%-8.4g %7.2f", r.updateNorm, r.durationSeconds)
            + (r.fairness.map { String(format: "  client acc min %.3f mean %.3f", $0.min, $0.mean) } ?? "")
            + (r.modelKept ? "  (model kept)" : "")
    }

    static let csvHeader = "round,sampled,accepted,rejected,timed_out,failed,clean_accuracy,clean_loss,robust_accuracy,update_norm,duration_seconds,client_acc_mean,client_acc_min,client_acc_worst10,model_kept,run_status"

    /// The run's status as one CSV token: `completed`, `failed` (run_end with another status) or
    /// `incomplete` (no run_end: crashed or still running).
    static func csvStatus(_ log: AggregationLog) -> String {
        guard let end = log.runEnd else { return "incomplete" }
        return end.status == "completed" ? "completed" : "failed"
    }

    /// One line per round; empty fields where a value was not measured that round. The last
    /// column repeats the run's status on every row, so a concatenation of runs stays readable.
    static func csv(_ log: AggregationLog, round: Int? = nil) -> String {
        func f(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        let status = csvStatus(log)
        var out = csvHeader + "\n"
        for r in log.rounds where round == nil || r.round == round {
            let fields = [String(r.round), String(r.sampled.count), String(r.accepted.count), String(r.rejected.count),
                          String(r.timedOut.count), String(r.failed.count), f(r.eval?.cleanAccuracy), f(r.eval?.cleanLoss),
                          f(r.eval?.robustAccuracy), f(r.updateNorm), f(r.durationSeconds), f(r.fairness?.mean),
                          f(r.fairness?.min), f(r.fairness?.worst10Mean), r.modelKept ? "true" : "false", status]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static func weights(_ r: RoundRecord) -> String {
        let parts = r.weights.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key):\(String(format: "%.3f", $0.value))" }
        var s = "       weights " + parts.joined(separator: " ")
        for x in r.rejected { s += "\n       rejected \(x.client): \(x.reason)" }
        for x in r.failed { s += "\n       failed \(x.client): \(x.reason)" }
        return s
    }
}
