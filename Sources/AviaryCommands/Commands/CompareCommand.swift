import AviaryReport
import ArgumentParser
import Foundation
import AviaryLog

/// `aviary compare runs/a runs/b …`: overlay a per-round metric and tabulate final metrics.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs: one plot of a per-round metric (HTML) and a table of final metrics (printed).",
        discussion: """
        Runs whose topologies differ only in [seeds] (and their names) are grouped: the table shows \
        mean ± sample std across each group's runs, of the final round and of the mean of the last K \
        evaluated rounds, and the plot one line per group with a ±1 std band. A directory that holds \
        runs (a sweep) stands for all of them. --x-axis simulated plots against the simulated clock at \
        each round's close ([system] runs); a group's seeds are then interpolated onto common times.
        """)

    @Argument(help: "Run directories (runs/<name>), their aggregation.jsonl files, or directories of runs (a sweep).")
    var directories: [String]

    @Option(name: .customLong("last"), help: "Average the last K evaluated rounds of each run (non-IID runs swing between rounds).")
    var lastK: Int = 10

    @Flag(name: .customLong("no-group"), help: "One row and line per run, even for runs that differ only by seed.")
    var noGroup = false

    @Option(name: .shortAndLong, help: "Where to write the page (default: compare.html in the runs' common parent directory).")
    var output: String?

    @Option(help: "Metric to plot per round: \(ComparisonMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
    var metric: String = ComparisonMetric.cleanAccuracy.rawValue

    @Option(name: .customLong("x-axis"), help: "Plot against: round, or simulated (the simulated clock at each round's close; every run needs [system]).")
    var xAxis: String = ComparisonAxis.round.rawValue

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("Name at least one run directory, e.g. `aviary compare runs/a runs/b`.") }
        guard lastK >= 1 else { throw ValidationError("--last must be at least 1") }
        guard ComparisonMetric(rawValue: metric) != nil else {
            throw ValidationError("Unknown metric '\(metric)'; use one of \(ComparisonMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard ComparisonAxis(rawValue: xAxis) != nil else {
            throw ValidationError("Unknown --x-axis '\(xAxis)'; use one of \(ComparisonAxis.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }

    func run() throws {
        do {
            let arguments = directories.flatMap(Self.expandingSweeps)
            let runs = try arguments.map { dir throws(RunFileError) -> RunComparison.Run in
                let path = dir.hasSuffix(".jsonl") ? dir : RunDirectory(path: dir).log
                let log = try AggregationLog.read(path: path)
                for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
                return RunComparison.Run(path: dir, log: log)
            }
            let groups = noGroup ? nil : try SeedGrouping.groups(runDirectories: arguments.map(Self.runDirectory))
            let comparison = try RunComparison(runs: runs, metric: ComparisonMetric(rawValue: metric)!,
                                               axis: ComparisonAxis(rawValue: xAxis)!, groups: groups, lastK: lastK)
            print(comparison.textTable(), terminator: "")
            let path = output ?? Self.commonParent(of: arguments.map(Self.runDirectory)) + "/compare.html"
            try AtomicFile.write(Data(comparison.html().utf8), to: path)
            print("comparison: \(path)")
        } catch {
            throw fail(error)
        }
    }

    /// A directory without a log of its own but with runs below it (a sweep) → those runs, sorted.
    static func expandingSweeps(_ argument: String) -> [String] {
        let fm = FileManager.default
        guard !argument.hasSuffix(".jsonl"), !fm.fileExists(atPath: RunDirectory(path: argument).log),
              let children = try? fm.contentsOfDirectory(atPath: argument) else { return [argument] }
        let base = argument.hasSuffix("/") ? String(argument.dropLast()) : argument
        let runs = children.sorted().map { base + "/" + $0 }.filter { fm.fileExists(atPath: RunDirectory(path: $0).log) }
        return runs.isEmpty ? [argument] : runs
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
