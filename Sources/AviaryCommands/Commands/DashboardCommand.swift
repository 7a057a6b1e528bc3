import ArgumentParser
import Foundation
import AviaryDashboard
import AviaryLog
import AviaryReport

/// `aviary dashboard [RUNS_DIR] --port P`: every run under a directory in the browser, live.
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Watch runs in a browser: every run under a directory, its status and charts, updated as rounds are logged.",
        discussion: """
        Serves one page on http://HOST:PORT/ that lists every run under RUNS_DIR (sweep folders \
        included) and draws the charts of the runs selected, as `aviary report` and `aviary compare` \
        draw them (runs that differ only by seed as mean ± std). It only reads the run directories. \
        It listens on 127.0.0.1 unless --host says otherwise; on any other address every request \
        needs the token (--token, or AVIARY_DASHBOARD_TOKEN, or one made up and printed). From a \
        cluster node, open it through an SSH tunnel instead: ssh -L 8080:localhost:8080 NODE.
        """)

    @Argument(help: "Directory holding run directories (default: runs).")
    var runsDirectory: String = "runs"

    @Option(help: "Port to listen on (0: any free port, printed).")
    var port: Int = 8080

    @Option(help: "Address to listen on. Anything but loopback (127.0.0.1, ::1, localhost) requires the token.")
    var host: String = "127.0.0.1"

    @Option(help: "Token every request must carry (?token= or Authorization: Bearer); default AVIARY_DASHBOARD_TOKEN, or made up for a non-loopback --host.")
    var token: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): use 0…65535 (0 picks a free port)") }
    }

    func run() throws {
        let given = token ?? ProcessInfo.processInfo.environment["AVIARY_DASHBOARD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let token = given ?? (DashboardServer.isLoopback(host) ? nil : DashboardServer.newToken())
        let options = DashboardServer.Options(root: runsDirectory, host: host, port: port, token: token)
        let found = RunCatalog.discover(root: runsDirectory)
        let root = runsDirectory
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let failure = ErrorBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await DashboardServer.run(options, grouping: Self.groups) { bound in
                    if found.isEmpty {
                        FileHandle.standardError.write(Data("warning: no runs under \(root) yet (a run is a directory holding aggregation.jsonl); they are listed as they appear\n".utf8))
                    }
                    say("dashboard: http://\(shownHost):\(bound)/" + (token.map { "?token=\($0)" } ?? "")
                        + " (\(plural(found.count, "run")) under \(root); Ctrl-C to stop)")
                }
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw fail(error) }
    }

    /// `aviary compare`'s seed groups of the selected runs; nil (no grouping) when a saved
    /// topology is missing or unreadable.
    @Sendable static func groups(_ directories: [String]) -> [RunComparison.SeedGroup]? {
        (try? SeedGrouping.groups(runDirectories: directories)) ?? nil
    }
}

/// The server task's error, handed to the waiting main thread after the semaphore.
private final class ErrorBox: @unchecked Sendable {
    var error: Error?
}
