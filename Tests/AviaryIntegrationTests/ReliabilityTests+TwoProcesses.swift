import Foundation
import Testing
import AviaryLog

extension ReliabilityTests {
    /// The set-up of the lost-process tests: a 4-client, 6-round run with 0.5 s heartbeats and a
    /// 600 s round timeout (so only liveness can close a round in time) and long local training
    /// (so the victim is surely mid-round), hosted by two client processes, clients 0,2 (the
    /// survivor) and 1,3 (the victim), which is SIGKILLed once round 1 is in the log.
    final class TwoProcessKill {
        let dir: String
        let name: String
        let server: Process
        let endpoint: String
        let survivor: Process
        var victim: Process
        /// When the victim was killed.
        private(set) var killedAt = Date()

        init(_ label: String, name: String, victimName: String? = nil) throws {
            dir = Harness.temporaryDirectory(label)
            self.name = name
            let topo = dir + "/t.toml"
            try Harness.topology(name: name, output: dir, clients: 4, rounds: 6, processes: 2, roundTimeout: 600, epochs: 3000,
                                 server: "heartbeat_interval = 0.5\nmin_clients = 4")
                .write(toFile: topo, atomically: true, encoding: .utf8)
            let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/" + name, log: dir + "/server.out")
            self.server = server
            guard let listening else {
                server.terminate()
                Issue.record("server never listened; see \(dir)/server.out")
                throw HarnessError.timedOut(tool: "aviary-server (listening)", seconds: 30)
            }
            endpoint = listening
            survivor = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0,2"], log: dir + "/c0.out")
            victim = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "1,3"] + (victimName.map { ["--name", $0] } ?? []),
                                       log: dir + "/c1.out")
        }

        /// Stops whatever still runs (for the tests' `defer`).
        func stop() {
            for p in [server, survivor, victim] where p.isRunning { p.terminate() }
        }

        var log: AggregationLog? { try? AggregationLog.read(path: dir + "/" + name + "/aggregation.jsonl") }

        func waitFor(_ what: String, timeout: Double = 90, _ condition: (AggregationLog) -> Bool) throws {
            try Harness.waitUntil(what, timeout: timeout) { log.map(condition) ?? false }
        }

        /// Waits for round 1, then kills the victim with SIGKILL and reaps it.
        func killVictimAfterRoundOne() throws {
            try waitFor("round 1 (see \(dir)/server.out)") { !$0.rounds.isEmpty }
            killedAt = Date()
            kill(victim.processIdentifier, SIGKILL)
            victim.waitUntilExit()
        }
    }
}
