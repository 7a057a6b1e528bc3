import AviaryReport
import ArgumentParser
import Foundation
import AviaryLog

/// `aviary report runs/<name>`: one self-contained HTML page of the run, from aggregation.jsonl.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a run (plots of accuracy, participation, merge weights, partition).",
        discussion: "The page is self-contained (inline SVG, no scripts); open it in any browser.")

    @Argument(help: "Run directory (runs/<name>) or its aggregation.jsonl.")
    var directory: String

    @Option(name: .shortAndLong, help: "Where to write the page (default: runs/<name>/report.html).")
    var output: String?

    func run() throws {
        let isLog = directory.hasSuffix(".jsonl")
        let logPath = isLog ? directory : RunDirectory(path: directory).log
        let dir = isLog ? (directory as NSString).deletingLastPathComponent : directory
        let path = output ?? RunDirectory(path: dir.isEmpty ? "." : dir).report
        do {
            let log = try AggregationLog.read(path: logPath)
            for w in log.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            try AtomicFile.write(Data(RunReport(log: log, source: logPath).html().utf8), to: path)
        } catch {
            throw fail(error)
        }
        print("report: \(path)")
    }
}
