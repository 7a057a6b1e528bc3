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
    /// hand-started `aviary-client` per argument list, waits for the server's SIGKILL, lets the
    /// clients notice the silence, then runs `aviary-server --resume runDirectory` to its end and
    /// waits for the clients. Logs go to `logs/`.
    static func killAndResumeServer(topology: String, runDirectory: String, crashAt: String, clients: [[String]],
                                    logs: String) throws -> ServerRestart {
        let first = try start("aviary-server", ["--topology", topology], log: logs + "/server1.out", environment: ["AVIARY_CRASH_AT": crashAt])
        let processes = try clients.enumerated().map { try start("aviary-client", $0.element, log: logs + "/c\($0.offset).out") }
        defer { for c in processes where c.isRunning { c.terminate() } }
        first.waitUntilExit()
        let killed = first.terminationReason == .uncaughtSignal && first.terminationStatus == SIGKILL
        Thread.sleep(forTimeInterval: 2)  // the clients notice the silence and start reconnecting
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
}
