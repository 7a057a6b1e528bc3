import AviaryReport
import ArgumentParser
import Foundation
import AviaryLog

/// `aviary compare runs/a runs/b …`: overlay a per-round metric and tabulate final metrics.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs: one plot of a per-round metric (HTML) and a table of final metrics (printed).")

    @Argument(help: "Run directories (runs/<name>) or their aggregation.jsonl files.")
    var directories: [String]

    @Option(name: .shortAndLong, help: "Where to write the page.")
    var output: String = "compare.html"

    @Option(help: "Metric to plot per round: \(ComparisonMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
    var metric: String = ComparisonMetric.cleanAccuracy.rawValue

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("Name at least one run directory, e.g. `aviary compare runs/a runs/b`.") }
        guard ComparisonMetric(rawValue: metric) != nil else {
            throw ValidationError("Unknown metric '\(metric)'; use one of \(ComparisonMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }

    func run() throws {
        do {
            let runs = try directories.map { dir throws(RunFileError) -> RunComparison.Run in
                let path = dir.hasSuffix(".jsonl") ? dir : RunDirectory(path: dir).log
                let log = try AggregationLog.read(path: path)
                for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
                return RunComparison.Run(path: dir, log: log)
            }
            let comparison = RunComparison(runs: runs, metric: ComparisonMetric(rawValue: metric)!)
            print(comparison.textTable(), terminator: "")
            try AtomicFile.write(Data(comparison.html().utf8), to: output)
        } catch {
            throw fail(error)
        }
        print("comparison: \(output)")
    }
}
