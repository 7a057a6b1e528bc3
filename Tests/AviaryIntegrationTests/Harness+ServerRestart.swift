import Foundation
import Testing

extension Harness {
    /// What happened when a hand-started federation's server was killed and resumed.
    struct ServerRestart {
        /// The first server died of SIGKILL (the crash point was reached).
        var killed: Bool
        /// Every client process was still running while the server was down.
        var clientsWaited: Bool
        var resumedStatus: Int32
        var clientStatuses: [Int32]
    }

    /// Starts `aviary-server --topology topology` with `AVIARY_CRASH_AT=crashAt` and one
    /// hand-started `aviary-client` per argument list, waits for the server's SIGKILL, waits
    /// until every client has noticed the silence (its log says it is reconnecting), then runs
    /// `aviary-server --resume runDirectory` to its end and waits for the clients. Logs go to `logs/`.
    static func killAndResumeServer(topology: String, runDirectory: String, crashAt: String, clients: [[String]],
                                    logs: String) throws -> ServerRestart {
        let first = try start("aviary-server", ["--topology", topology], log: logs + "/server1.out", environment: ["AVIARY_CRASH_AT": crashAt])
        let clientLogs = clients.indices.map { logs + "/c\($0).out" }
        let processes = try zip(clients, clientLogs).map { try start("aviary-client", $0, log: $1) }
        defer { for c in processes where c.isRunning { c.terminate() } }
        first.waitUntilExit()
        let killed = first.terminationReason == .uncaughtSignal && first.terminationStatus == SIGKILL
        let before = clientLogs.map(reconnects)
        try waitUntil("every client to notice the server is gone (\(clientLogs.joined(separator: ", ")))", timeout: 60) {
            zip(clientLogs, before).allSatisfy { reconnects(in: $0) > $1 }
        }
        let waited = processes.allSatisfy { $0.isRunning }
        let second = try start("aviary-server", ["--resume", runDirectory], log: logs + "/server2.out")
        defer { if second.isRunning { second.terminate() } }
        let deadline = Date().addingTimeInterval(90)
        while second.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if second.isRunning { second.terminate() }
        second.waitUntilExit()
        for c in processes { c.waitUntilExit() }
        return ServerRestart(killed: killed, clientsWaited: waited, resumedStatus: second.terminationStatus,
                             clientStatuses: processes.map(\.terminationStatus))
    }

    /// How often a client's log says it is reconnecting (the line `ClientHost` logs when the
    /// server has been silent for longer than liveness allows).
    static func reconnects(in log: String) -> Int {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").components(separatedBy: " reconnecting").count - 1
    }
}
