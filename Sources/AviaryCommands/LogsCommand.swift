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
        if csv {
            do { print(LogTable.csv(try AggregationLog.read(path: path).rounds.filter { round == nil || $0.round == round }), terminator: "") }
            catch { throw fail(error) }
            return
        }
        var shown = 0
        var headerPrinted = false
        while true {
            let log: AggregationLog
            do { log = try AggregationLog.read(path: path) } catch { throw fail(error) }
            if !headerPrinted {
                if let s = log.runStart {
                    print("run \(s.run): \(s.model) (\(s.parameters) parameters), \(s.strategy), \(s.dataset) / \(s.partition), \(s.clients) clients (\(s.clientsPerRound) per round)")
                    print("seeds: partition \(s.seeds.partition), sampling \(s.seeds.sampling), training \(s.seeds.training)")
                    for n in s.notes { print("note: \(n)") }
                }
                print(LogTable.header)
                print(LogTable.legend)
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
                print("end: \(end.status), \(end.roundsCompleted) rounds in \(String(format: "%.1f", end.durationSeconds)) s")
                return
            }
            guard follow else { return }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

enum LogTable {
    static let header = "round  clients  rejected  timed-out  accuracy    loss  robust   |Δ|      seconds"
    /// The per-client figures are measured before local training, on the model the client received.
    static let legend = "(client acc: the global model each client received — the previous round's — on its own test split, before local training)"

    static func row(_ r: RoundRecord) -> String {
        let acc = r.eval.map { String(format: "%.4f", $0.cleanAccuracy) } ?? "     -"
        let loss = r.eval.map { String(format: "%7.4f", $0.cleanLoss) } ?? "      -"
        let robust = r.eval?.robustAccuracy.map { String(format: "%.4f", $0) } ?? "     -"
        return String(format: "%5d  %3d/%-3d  %8d  %9d  ", r.round, r.accepted.count, r.sampled.count, r.rejected.count, r.timedOut.count)
            + "\(acc)  \(loss)  \(robust)  " + String(format: "%-8.4g %7.2f", r.updateNorm, r.durationSeconds)
            + (r.fairness.map { String(format: "  client acc min %.3f mean %.3f", $0.min, $0.mean) } ?? "")
            + (r.modelKept ? "  (model kept)" : "")
    }

    static let csvHeader = "round,sampled,accepted,rejected,timed_out,failed,clean_accuracy,clean_loss,robust_accuracy,update_norm,duration_seconds,client_acc_mean,client_acc_min,client_acc_worst10,model_kept"

    /// One line per round; empty fields where a value was not measured that round.
    static func csv(_ rounds: [RoundRecord]) -> String {
        func f(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        var out = csvHeader + "\n"
        for r in rounds {
            let fields = [String(r.round), String(r.sampled.count), String(r.accepted.count), String(r.rejected.count),
                          String(r.timedOut.count), String(r.failed.count), f(r.eval?.cleanAccuracy), f(r.eval?.cleanLoss),
                          f(r.eval?.robustAccuracy), f(r.updateNorm), f(r.durationSeconds), f(r.fairness?.mean),
                          f(r.fairness?.min), f(r.fairness?.worst10Mean), r.modelKept ? "true" : "false"]
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
