import Foundation
import Testing
import AviaryLog

/// `[system]` end to end: real processes, a device trace with one very slow client that the
/// simulated deadline drops every round; the log, `aviary logs` and the report show it.
@Suite(.serialized) struct SimulatedClockRunTests {
    @Test func aSlowClientIsDroppedAsAStragglerAndTheLogShowsTheClock() throws {
        let dir = Harness.temporaryDirectory("simclock")
        let trace = dir + "/devices.csv"
        try """
        client,speed,up_bps,down_bps,latency_s,availability
        0,5000,1000000,1000000,0.1,1
        1,5000,1000000,1000000,0.1,1
        2,5000,1000000,1000000,0.1,1
        3,0.1,1000000,1000000,0.1,1
        """.write(toFile: trace, atomically: true, encoding: .utf8)
        let topo = dir + "/t.toml"
        try Harness.topology(name: "simclock", output: dir, clients: 4, rounds: 3, processes: 2, epochs: 1,
                             extra: "[system]\ntrace = \"\(trace)\"\ndeadline = 30\n")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "aviary run failed:\n\(result.output)")

        let log = try AggregationLog.read(path: dir + "/simclock/aggregation.jsonl")
        #expect(log.rounds.count == 3)
        var clock = 0.0
        for r in log.rounds {
            let system = try #require(r.system)
            #expect(r.sampled == [0, 1, 2, 3] && r.accepted == [0, 1, 2], "round \(r.round)")
            #expect(system.stragglers == [3] && system.roundSeconds == 30 && system.offlineCount == 0)
            #expect(r.clientMetrics["3"] == nil, "a dropped straggler is never asked to train")
            clock += 30
            #expect(system.clockSeconds == clock)
        }
        let table = try Harness.run("aviary", ["logs", dir + "/simclock"])
        #expect(table.output.contains("client acc min/mean  sim\n") && table.output.contains("  sim 90.0s"), "\(table.output)")
        let wideLines = table.output.split(separator: "\n").filter { ($0.hasPrefix("round") || $0.hasPrefix(" ")) && $0.count > 100 }
        #expect(wideLines.isEmpty, "lines over 100 columns:\n\(wideLines.joined(separator: "\n"))")
        let clients = try Harness.run("aviary", ["logs", dir + "/simclock", "--clients", "--csv"])
        #expect(clients.output.contains(",straggler,"), "\(clients.output)")
        let report = try Harness.run("aviary", ["report", dir + "/simclock"])
        #expect(report.status == 0, "\(report.output)")
        let html = try String(contentsOfFile: dir + "/simclock/report.html", encoding: .utf8)
        #expect(html.contains("Accuracy against simulated time") && html.contains("Stragglers and offline clients per round"))
        let page = dir + "/compare-simulated.html"
        let compare = try Harness.run("aviary", ["compare", dir + "/simclock", "--x-axis", "simulated", "-o", page])
        #expect(compare.status == 0, "\(compare.output)")
        let compared = try String(contentsOfFile: page, encoding: .utf8)
        #expect(compared.contains("clean_accuracy against simulated time") && compared.contains("simulated minutes"))
        // Round 3 closes at 90 s = 1.5 simulated minutes: its point's tooltip says so.
        #expect(compared.contains("simclock at 1.5: "), "\(compared)")
    }

    @Test func aBadTraceRowIsRefusedWithFileAndLineBeforeAnythingRuns() throws {
        let dir = Harness.temporaryDirectory("simclock-bad")
        try "0,10,100,200,0.1,1\n1,10,100,200,0.1\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        try Harness.topology(name: "bad", output: dir, clients: 2, rounds: 1, processes: 1, extra: "[system]\ntrace = \"\(dir)/bad.csv\"\n")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        for args in [["validate", dir + "/t.toml"], ["run", dir + "/t.toml"]] {
            let result = try Harness.run("aviary", args)
            #expect(result.status != 0)
            #expect(result.output.contains("bad.csv:2: bad system trace row: 5 fields"), "\(args[0]): \(result.output)")
        }
    }

    /// The server killed with SIGKILL while a late update is held ("stale") and the availability
    /// chain is mid-way: the resumed run ends with the same checkpoint and the same clock.
    @Test func aServerKilledOnTheSimulatedClockResumesToTheSameCheckpointAndClock() throws {
        func prepare(_ dir: String) throws {
            let trace = dir + "/devices.csv"
            try """
            client,speed,up_bps,down_bps,latency_s,availability
            0,5000,1000000,1000000,5,1
            1,5000,1000000,1000000,5,1
            2,5000,1000000,1000000,5,1
            3,5000,1000000,1000000,22,1
            4,5000,1000000,1000000,5,0.5
            5,5000,1000000,1000000,5,0.5
            """.write(toFile: trace, atomically: true, encoding: .utf8)
            try Harness.topology(name: "r", output: dir, clients: 6, rounds: 5, processes: 2, epochs: 1,
                                 server: ReliabilityTests.resumeTopologyExtra,
                                 extra: "[system]\ntrace = \"\(trace)\"\ndeadline = 30\nstraggler_policy = \"stale\"\nonline_period = 2\n")
                .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        }
        let reference = Harness.temporaryDirectory("simclock-ref")
        try prepare(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")
        let dir = Harness.temporaryDirectory("simclock-resume")
        try prepare(dir)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": "round-started:3"])
        #expect(crashed.status != 0, "\(crashed.output)")
        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/r"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")

        let a = try AggregationLog.read(path: reference + "/r/aggregation.jsonl")
        let b = try AggregationLog.read(path: dir + "/r/aggregation.jsonl")
        #expect(b.rounds.map(\.round) == [1, 2, 3, 4, 5])
        #expect(a.rounds.map(\.system) == b.rounds.map(\.system))
        #expect(a.rounds.map(\.weights) == b.rounds.map(\.weights))
        // Client 3 straggles in round 1 (arrives at ~44 s) and is merged late in round 3.
        #expect(a.rounds[0].system?.stragglers == [3])
        #expect(a.rounds[2].system?.staleMerged?.map(\.client) == [3], "\(String(describing: a.rounds.map(\.system)))")
        let ref = try Data(contentsOf: URL(fileURLWithPath: reference + "/r/checkpoints/round-0005.safetensors"))
        let got = try Data(contentsOf: URL(fileURLWithPath: dir + "/r/checkpoints/round-0005.safetensors"))
        #expect(ref == got)
    }
}
