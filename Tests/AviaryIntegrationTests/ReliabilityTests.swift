import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport
import AviaryReport

/// Runs that survive crashes, with real processes and sockets: the server killed with SIGKILL
/// at three points and resumed to the byte-identical final checkpoint, a killed client dropped
/// within the liveness window and sampled again once restarted, hand-started clients riding
/// through a server restart, and a 1,000-client run that exits 0.
@Suite(.serialized) struct ReliabilityTests {
    static let resumeTopologyExtra = """
        checkpoint_every = 1
        heartbeat_interval = 0.5
        """

    func checkpoint(_ dir: String, _ name: String, round: Int) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name)/checkpoints/" + String(format: "round-%04d.safetensors", round)))
    }

    @Test(arguments: ["registered", "round-started:3", "write:round-0003.safetensors"])
    func serverKilledAtAnyPointResumesToTheSameFinalCheckpoint(_ crashPoint: String) throws {
        let rounds = 5
        let reference = Harness.temporaryDirectory("resume-ref")
        try Harness.topology(name: "r", output: reference, clients: 4, rounds: rounds, processes: 2, server: Self.resumeTopologyExtra)
            .write(toFile: reference + "/t.toml", atomically: true, encoding: .utf8)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")

        let dir = Harness.temporaryDirectory("resume")
        try Harness.topology(name: "r", output: dir, clients: 4, rounds: rounds, processes: 2, server: Self.resumeTopologyExtra)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": crashPoint])
        #expect(crashed.status != 0, "the crash point \(crashPoint) was never reached:\n\(crashed.output)")
        #expect(crashed.output.contains("signal 9"), "\(crashed.output)")
        let before = try AggregationLog.read(path: dir + "/r/aggregation.jsonl")
        #expect(before.runEnd == nil)

        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/r"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")
        let resumedCheckpoint = try checkpoint(dir, "r", round: rounds)
        let referenceCheckpoint = try checkpoint(reference, "r", round: rounds)
        #expect(resumedCheckpoint == referenceCheckpoint, "after a crash at \(crashPoint)")
        let a = try AggregationLog.read(path: reference + "/r/aggregation.jsonl")
        let b = try AggregationLog.read(path: dir + "/r/aggregation.jsonl")
        #expect(b.rounds.map(\.round) == Array(1...rounds), "each round exactly once")
        #expect(a.rounds.map(\.eval) == b.rounds.map(\.eval))
        #expect(a.rounds.map(\.weights) == b.rounds.map(\.weights))
        #expect(b.records.contains { if case .resumed = $0 { true } else { false } })
        #expect(b.runEnd?.status == "completed")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: dir + "/r").filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// Two processes host two clients each (one connection per process); one process dies.
    @Test func aKilledClientIsDroppedWithinTheLivenessWindowAndSampledAgainWhenRestarted() throws {
        let run = try TwoProcessKill("liveness", name: "live")
        defer { run.stop() }
        try run.killVictimAfterRoundOne()
        try run.waitFor("the lost process") { $0.notes.contains { $0.event == "process_lost" } }
        #expect(Date().timeIntervalSince(run.killedAt) < 10, "liveness (3 × 0.5 s) should notice within seconds")
        run.victim = try Harness.start("aviary-client", ["--connect", run.endpoint, "--clients", "1,3"], log: run.dir + "/c1-restarted.out")
        try Harness.waitUntil("the server to finish (see \(run.dir)/server.out)", timeout: 120) { !run.server.isRunning }
        #expect(run.server.terminationStatus == 0, "see \(run.dir)/server.out")
        let final = try #require(run.log)
        #expect(final.rounds.count == 6)
        #expect(final.rounds.allSatisfy { $0.durationSeconds < 60 }, "no round waited for the 600 s timeout")
        let lostRound = try #require(final.rounds.firstIndex { ($0.lost ?? []).contains(1) }, "the victim was killed mid-round")
        // The restarted client is sampled again in the round after it registered.
        #expect(final.rounds.last?.sampled == [0, 1, 2, 3], "\(final.rounds.map(\.sampled))")
        #expect(final.rounds.last?.accepted == [0, 1, 2, 3])
        #expect(final.rounds[lostRound].accepted == [0, 2])
        #expect(final.rounds[lostRound].lost == [1, 3])
        #expect(final.runEnd?.status == "completed")
        #expect(final.runEnd?.returnedClients == [1, 3] && final.runEnd?.lostClients == nil)
        let serverOutput = try String(contentsOfFile: run.dir + "/server.out", encoding: .utf8)
        #expect(serverOutput.contains("population: clients 1,3 lost and came back"), "\(serverOutput)")
        run.victim.waitUntilExit()
        run.survivor.waitUntilExit()
        #expect(run.survivor.terminationStatus == 0 && run.victim.terminationStatus == 0, "clients exit 0 on SHUTDOWN")
    }

    /// Half the federation killed for good: the run goes on with the rest, but ends `degraded`
    /// (exit 1) naming the lost clients; `aviary logs` and its CSV count them per round.
    @Test func aRunThatLosesHalfItsClientsForGoodEndsDegraded() throws {
        let run = try TwoProcessKill("degraded", name: "dg", victimName: "victim")
        defer { run.stop() }
        try run.killVictimAfterRoundOne()
        let (dir, server, survivor) = (run.dir, run.server, run.survivor)
        let finish = Date().addingTimeInterval(180)
        while server.isRunning && Date() < finish { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!server.isRunning, "the server went on after 180 s; see \(dir)/server.out")
        #expect(server.terminationStatus == 1, "degraded exits non-zero; see \(dir)/server.out")
        let log = try AggregationLog.read(path: dir + "/dg/aggregation.jsonl")
        #expect(log.rounds.count == 6)
        let end = try #require(log.runEnd)
        #expect(end.status.hasPrefix("degraded: 2 of 4 registered clients were lost and did not come back (clients 1,3"), "\(end.status)")
        #expect(end.lostClients == [1, 3] && end.returnedClients == nil)
        let output = try String(contentsOfFile: dir + "/server.out", encoding: .utf8)
        #expect(output.contains("population: clients 1,3 lost and not back (2 of 4)"), "\(output)")
        // The server's log line names the process by its HELLO name, not only its routing id.
        #expect(output.contains("process=victim (0x"), "\(output)")
        // Client log lines print losses at four decimals.
        let clientLog = try String(contentsOfFile: dir + "/c0.out", encoding: .utf8)
        #expect(clientLog.contains(#/loss=[0-9]+\.[0-9]{4} /#), "\(clientLog.prefix(2000))")
        // After the loss every round samples the two left, and says it wanted four.
        #expect(output.contains("round 6/6  merged 2/2 sampled (of 4 per round: fewer available)"), "\(output)")
        let table = try Harness.run("aviary", ["logs", dir + "/dg"])
        #expect(table.output.contains(LogTable.header), "\(table.output)")
        let lostRow = try #require(log.rounds.first { ($0.lost ?? []) == [1, 3] }, "the victim was killed mid-round")
        #expect(table.output.contains(LogTable.row(lostRow)), "\(table.output)")
        let csv = try Harness.run("aviary", ["logs", dir + "/dg", "--csv"]).output.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let lostColumn = try #require(csv[0].firstIndex(of: "lost"))
        #expect(csv[lostRow.round][lostColumn] == "2")  // row r is round r; row 0 is the header
        #expect(csv[1...].allSatisfy { $0.last == "degraded" })
        survivor.waitUntilExit()
    }

    @Test func handStartedClientsReconnectAfterTheServerIsRestartedWithResume() throws {
        let dir = Harness.temporaryDirectory("restart")
        let topo = dir + "/t.toml"
        let socket = "ipc://" + dir + "/server.sock"
        try Harness.topology(name: "rs", output: dir, clients: 3, rounds: 5, processes: 1,
                             server: "bind = \"\(socket)\"\nheartbeat_interval = 0.5")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let restart = try Harness.killAndResumeServer(topology: topo, runDirectory: dir + "/rs", crashAt: "round-started:3",
                                                      clients: (0..<3).map { ["--connect", socket, "--clients", "\($0)"] }, logs: dir)
        #expect(restart.killed)
        #expect(restart.clientsWaited, "clients must wait for the server to come back")
        #expect(restart.resumedStatus == 0, "see \(dir)/server2.out")
        #expect(restart.clientStatuses.allSatisfy { $0 == 0 }, "every client finished cleanly")
        let log = try AggregationLog.read(path: dir + "/rs/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5])
        #expect(log.runEnd?.status == "completed")
    }

    @Test func aThousandClientsInEightProcessesCompleteAndExitZero() throws {
        let dir = Harness.temporaryDirectory("thousand")
        try Harness.topology(name: "k", output: dir, clients: 1000, rounds: 3, processes: 8, epochs: 1,
                             server: "clients_per_round = 100")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let started = Date()
        let result = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("had not exited"), "every client heard SHUTDOWN:\n\(result.output)")
        #expect(Date().timeIntervalSince(started) < 120)
        let log = try AggregationLog.read(path: dir + "/k/aggregation.jsonl")
        #expect(log.rounds.allSatisfy { $0.accepted.count == 100 })
    }
}

/// A live server under a HELLO storm over real sockets: hundreds of connections claiming
/// duplicate, out-of-range and live indices are refused per client with a reason, the log gets
/// one summary line per round instead of one per attempt, and the honest clients finish.
@Suite(.serialized) struct HelloStormTests {
    @Test func aHelloStormIsRefusedPerClientAndSummarised() throws {
        let dir = Harness.temporaryDirectory("storm")
        let topo = dir + "/t.toml"
        // Long enough rounds that the storm is answered while the run is still going.
        try Harness.topology(name: "storm", output: dir, clients: 2, rounds: 4, processes: 1, epochs: 4000)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/storm", log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "server never listened")
        let honest = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0,1"], log: dir + "/honest.out")
        defer { if honest.isRunning { honest.terminate() } }
        // Wait until the honest process holds both slots, then storm.
        try Harness.waitUntil("the honest process to register", timeout: 30) {
            (try? AggregationLog.read(path: dir + "/storm/aggregation.jsonl"))?.notes.contains { $0.event == "clients_registered" } ?? false
        }
        var stormers: [ClientEndpoint] = []
        var refusals = 0
        for i in 0..<300 {
            let c = try ClientEndpoint(connect: endpoint)
            let claims: [ClientClaim] = [ClientClaim(index: i % 2, token: UInt64(i) + 1), ClientClaim(index: 5 + i), ClientClaim(index: 0)]
            try c.send(.hello(HelloMessage(processName: "storm-\(i)", claims: claims)))
            stormers.append(c)
        }
        let answered = Date().addingTimeInterval(30)
        for c in stormers {
            let left = max(0.01, answered.timeIntervalSinceNow)
            if case let .success(.welcome(w))? = try c.receive(timeout: .milliseconds(Int(left * 1000))) {
                #expect(w.accepted.isEmpty)
                refusals += w.refused.reduce(0) { $0 + $1.claims }
            }
            c.close()
        }
        #expect(refusals == 900, "every claim of every stormer refused with a reason")
        try Harness.waitUntil("the server to finish (see \(dir)/server.out)", timeout: 120) { !server.isRunning }
        #expect(server.terminationStatus == 0, "see \(dir)/server.out")
        honest.waitUntilExit()
        #expect(honest.terminationStatus == 0)
        let log = try AggregationLog.read(path: dir + "/storm/aggregation.jsonl")
        #expect(log.rounds.allSatisfy { $0.accepted == [0, 1] })
        let issues = log.notes.filter { $0.event == "protocol_issues" }
        #expect(!issues.isEmpty && issues.count <= 3, "one summary per round, not one line per HELLO: \(issues.count)")
        #expect(log.notes.count < 20, "the log did not grow with the storm: \(log.notes.count) notes")
    }

    @Test func aProcessAskingForClientsOutsideTheTopologyIsToldTheRange() throws {
        let dir = Harness.temporaryDirectory("range")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "range", output: dir, clients: 2, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/range", log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "server never listened")
        let result = try Harness.run("aviary-client", ["--connect", endpoint, "--clients", "1,7"], timeout: 60)
        #expect(result.status != 0)
        #expect(result.output.contains("the server refused client 7: outside the topology's clients 0..<2"), "\(result.output)")
    }
}
