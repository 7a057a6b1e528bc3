import ArgumentParser
import Foundation
import AviaryLog
import AviaryReport

/// `aviary logs runs/<name>`: the aggregation log as a table, straight from aggregation.jsonl.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show a run's aggregation log: one row per round, with merge weights on request.",
        discussion: "Lines fit \(LogTable.width) columns; --wide prints every column at full width.")

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

    @Flag(help: "With --csv: one row per (round, sampled client) instead, every client metric a column.")
    var clients = false

    @Flag(help: "Full-width rows (the default fits \(LogTable.width) columns).")
    var wide = false

    func validate() throws {
        if csv && (follow || weights) { throw ValidationError("--csv cannot be combined with --follow or --weights") }
        if clients && !csv { throw ValidationError("--clients needs --csv (aviary logs DIR --clients --csv)") }
    }

    /// `--round N` names a round the log has; while following an unfinished run it may still come.
    private func checkRound(_ log: AggregationLog) throws {
        guard let round, !log.rounds.contains(where: { $0.round == round }) else { return }
        if follow && log.runEnd == nil && round <= (log.runStart?.rounds ?? Int.max) { return }
        let have = log.rounds.map(\.round)
        let range = have.isEmpty ? "it has no rounds yet" : "its rounds are \(have.min()!)…\(have.max()!)"
        throw LogsError.noSuchRound(round: round, path: directory, available: range)
    }

    func run() throws {
        let path = directory.hasSuffix(".jsonl") ? directory : RunDirectory(path: directory).log
        let parent = (path as NSString).deletingLastPathComponent
        let runDirectory = directory.hasSuffix(".jsonl") ? (parent.isEmpty ? "." : parent) : directory
        if csv {
            do {
                let log = try AggregationLog.read(path: path)
                try checkRound(log)
                print(clients ? ClientCSV.csv(log, round: round) : LogTable.csv(log, round: round), terminator: "")
            } catch { throw fail(error) }
            return
        }
        let width = wide ? Int.max : LogTable.width
        if !follow {
            let log: AggregationLog
            do {
                log = try AggregationLog.read(path: path)
                try checkRound(log)
            } catch { throw fail(error) }
            print(LogTable.text(log, directory: runDirectory, round: round, weights: weights, wide: wide), terminator: "")
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            return
        }
        var shown = 0
        var headerPrinted = false
        while true {
            let log: AggregationLog
            do {
                log = try AggregationLog.read(path: path)
                try checkRound(log)
            } catch { throw fail(error) }
            if !headerPrinted {
                for line in LogTable.runHeader(log, width: width) { print(line) }
                // A live run's first rounds may not be written yet: the topology says whether it simulates.
                let simulated = log.rounds.contains { $0.system != nil } || log.runStart?.seeds.system != nil
                print((wide ? LogTable.wideHeader : LogTable.header) + (simulated ? LogTable.simHeader : ""))
                print(LogTable.wrap(LogTable.legend, width: width, indent: " "))
                headerPrinted = true
            }
            let rounds = log.rounds.filter { round == nil || $0.round == round }
            for r in rounds.dropFirst(shown) {
                print(wide ? LogTable.wideRow(r) : LogTable.row(r))
                if weights { print(LogTable.weights(r, width: width)) }
                // The server appends a round's checkpoint merge right after the round.
                for m in log.checkpointMerges where m.round == r.round {
                    print(LogTable.wrap(LogTable.checkpointMergeLine(m), width: width, indent: "         "))
                }
            }
            shown = rounds.count
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if let end = log.runEnd {
                print(LogTable.endLine(end))
                if let overhead = LogTable.overheadLine(log) { print("     " + overhead) }
                return
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

enum LogsError: Error, CustomStringConvertible {
    case noSuchRound(round: Int, path: String, available: String)
    var description: String {
        switch self {
        case let .noSuchRound(round, path, available): "--round \(round): \(path) has no round \(round); \(available)"
        }
    }
}
