import ArgumentParser
import Foundation
import AviaryTopology
import Logging

/// `aviary`: the umbrella command.
public struct AviaryCLI: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "aviary",
        abstract: "Aviary: a federated-learning simulator (adversarial local training, metrics-weighted merging).",
        discussion: """
        Start with `aviary run topologies/quickstart.toml`, then `aviary logs runs/quickstart`.
        Preview a non-IID split before training with `aviary partition <topology>`.
        """,
        version: BuildInfo.versionLine,
        subcommands: [RunCommand.self, SweepCommand.self, ServerCommand.self, ClientCommand.self, PartitionCommand.self, LogsCommand.self,
                      TrainCommand.self, MergeCommand.self, EvalCommand.self, ValidateCommand.self, BenchCommand.self, ReportCommand.self, CompareCommand.self, ResultsCommand.self, KeygenCommand.self,
                      DashboardCommand.self, ExportCommand.self, EpsilonCommand.self, DebugCommand.self])

    public init() {}
}

/// Shared by the executables: one log line format, level from AVIARY_LOG_LEVEL (default info).
public func bootstrapLogging(label: String) {
    let level = ProcessInfo.processInfo.environment["AVIARY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    LoggingSystem.bootstrap { name in
        var h = StreamLogHandler.standardError(label: name)
        h.logLevel = level
        return h
    }
    _ = label
}

/// The directory holding this executable, where its sibling executables live.
func executableDirectory() -> String {
    let path = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    if CommandLine.arguments[0].contains("/") { return path.deletingLastPathComponent().path }
    // Invoked through PATH: find it there.
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = "\(dir)/\(CommandLine.arguments[0])"
        if FileManager.default.isExecutableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate).resolvingSymlinksInPath().deletingLastPathComponent().path
        }
    }
    return FileManager.default.currentDirectoryPath
}

/// Turns a typed error into one line for the user and a failing exit code.
func fail(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}


/// A status line, written unbuffered so it keeps its place among the children's output
/// (`print` is block-buffered when stdout is a pipe).
/// Prints a topology's warnings to standard error, one per line, before anything runs.
func warnAbout(_ topology: Topology) {
    for w in topology.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
}

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
