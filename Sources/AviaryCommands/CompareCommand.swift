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

    @Option(name: .shortAndLong, help: "Where to write the page (default: compare.html in the runs' common parent directory).")
    var output: String?

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
            let path = output ?? Self.commonParent(of: directories.map(Self.runDirectory)) + "/compare.html"
            try AtomicFile.write(Data(comparison.html().utf8), to: path)
            print("comparison: \(path)")
        } catch {
            throw fail(error)
        }
    }

    /// The run directory a command-line argument names (a run, or its aggregation.jsonl).
    static func runDirectory(_ argument: String) -> String {
        var dir = argument.hasSuffix(".jsonl") ? (argument as NSString).deletingLastPathComponent : argument
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        return dir.isEmpty ? "." : dir
    }

    /// The deepest directory holding every run: `runs` for runs/a and runs/b. Kept as typed
    /// when the runs share it literally, so the printed path reads like the arguments.
    static func commonParent(of runs: [String]) -> String {
        let parents = runs.map { ($0 as NSString).deletingLastPathComponent }.map { $0.isEmpty ? "." : $0 }
        if let first = parents.first, parents.allSatisfy({ $0 == first }) { return first }
        let absolute = parents.map { URL(fileURLWithPath: $0).standardizedFileURL.pathComponents }
        var common = absolute[0]
        for components in absolute.dropFirst() {
            common = Array(zip(common, components).prefix { $0.0 == $0.1 }.map(\.0))
        }
        return common.count <= 1 ? "/" : "/" + common.dropFirst().joined(separator: "/")
    }
}
