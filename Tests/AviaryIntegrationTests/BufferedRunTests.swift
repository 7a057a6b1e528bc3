import Foundation
import Testing
import AviaryLog

/// `[server] mode = "buffered"` end to end with real processes and sockets: the final
/// checkpoint is byte-identical with 1 and 3 client processes, and after the server is killed
/// with SIGKILL at three points and resumed.
@Suite(.serialized) struct BufferedRunTests {
    static let rounds = 5

    /// Six clients whose latencies (1…16 s each way) order their arrivals; 4 in flight, K = 2.
    static func prepare(_ dir: String, processes: Int, server: String = "") throws {
        let trace = dir + "/devices.csv"
        try """
        client,speed,up_bps,down_bps,latency_s,availability
        0,5000,1000000,1000000,1,1
        1,5000,1000000,1000000,2,1
        2,5000,1000000,1000000,4,1
        3,5000,1000000,1000000,8,1
        4,5000,1000000,1000000,16,1
        5,5000,1000000,1000000,3,0.5
        """.write(toFile: trace, atomically: true, encoding: .utf8)
        try Harness.topology(name: "b", output: dir, clients: 6, rounds: rounds, processes: processes, epochs: 1,
                             server: ReliabilityTests.resumeTopologyExtra + "\nmode = \"buffered\"\nconcurrency = 4\nbuffer_size = 2\n" + server,
                             extra: "[system]\ntrace = \"\(trace)\"\n")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
    }

    static func final(_ dir: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: dir + "/b/checkpoints/" + String(format: "round-%04d.safetensors", rounds)))
    }

    @Test func oneAndThreeClientProcessesGiveTheSameBytesAndKilledRunsResumeToThem() throws {
        let one = Harness.temporaryDirectory("buffered-1")
        try Self.prepare(one, processes: 1)
        let a = try Harness.run("aviary", ["run", one + "/t.toml"], timeout: 180)
        #expect(a.status == 0, "\(a.output)")
        let three = Harness.temporaryDirectory("buffered-3")
        try Self.prepare(three, processes: 3)
        let b = try Harness.run("aviary", ["run", three + "/t.toml"], timeout: 180)
        #expect(b.status == 0, "\(b.output)")
        let reference = try Self.final(one)
        #expect(try Self.final(three) == reference, "1 vs 3 client processes")
        let logA = try AggregationLog.read(path: one + "/b/aggregation.jsonl")
        let logB = try AggregationLog.read(path: three + "/b/aggregation.jsonl")
        #expect(logA.rounds.map(\.system) == logB.rounds.map(\.system))
        #expect(logA.rounds.allSatisfy { $0.system?.buffered?.updates.count == 2 })
        #expect(logA.rounds.contains { ($0.system?.buffered?.updates ?? []).contains { $0.staleness > 0 } })

        for point in ["registered", "round-started:3", "write:round-0003.safetensors"] {
            let dir = Harness.temporaryDirectory("buffered-kill")
            try Self.prepare(dir, processes: 3)
            let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 180, environment: ["AVIARY_CRASH_AT": point])
            #expect(crashed.status != 0 && crashed.output.contains("signal 9"), "\(point): \(crashed.output)")
            let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/b"], timeout: 180)
            #expect(resumed.status == 0, "\(point): \(resumed.output)")
            #expect(try Self.final(dir) == reference, "killed at \(point)")
            let log = try AggregationLog.read(path: dir + "/b/aggregation.jsonl")
            #expect(log.rounds.map(\.round) == Array(1...Self.rounds), "\(point)")
            #expect(log.rounds.map(\.system) == logA.rounds.map(\.system), "\(point)")
        }
    }

    /// The run state is saved only at durability points (here, with `durable_interval` an hour:
    /// after the last round, and after the first round a resumed process writes), so a kill after
    /// round 2 is logged leaves no state: the resume starts over, cutting rounds 1–2 from the log,
    /// and its first round is a durability point; a second kill after round 4 resumes from round
    /// 1's state, and rounds 2–4 run again, writing the same checkpoints. The run ends with the
    /// uninterrupted run's bytes. Resuming from the log's last round instead would skip the model
    /// of the rounds in between; keeping their log lines would log them twice.
    @Test func aKillBetweenTwoStateSavesReplaysTheRoundsInBetween() throws {
        let reference = Harness.temporaryDirectory("buffered-ref")
        try Self.prepare(reference, processes: 2)
        let a = try Harness.run("aviary", ["run", reference + "/t.toml"], timeout: 180)
        #expect(a.status == 0, "\(a.output)")
        let dir = Harness.temporaryDirectory("buffered-replay")
        try Self.prepare(dir, processes: 2, server: "durable_interval = 3600\n")
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 180, environment: ["AVIARY_CRASH_AT": "round-logged:2"])
        #expect(crashed.status != 0 && crashed.output.contains("signal 9"), "\(crashed.output)")
        #expect(try AggregationLog.read(path: dir + "/b/aggregation.jsonl").rounds.map(\.round) == [1, 2])
        #expect(!FileManager.default.fileExists(atPath: dir + "/b/state.json"), "no durability point before the last round")
        let again = try Harness.run("aviary", ["run", "--resume", dir + "/b"], timeout: 180, environment: ["AVIARY_CRASH_AT": "round-logged:4"])
        #expect(again.status != 0 && again.output.contains("signal 9"), "\(again.output)")
        let before = try AggregationLog.read(path: dir + "/b/aggregation.jsonl")
        #expect(before.rounds.map(\.round) == [1, 2, 3, 4])
        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/b"], timeout: 180)
        #expect(resumed.status == 0, "\(resumed.output)")
        let log = try AggregationLog.read(path: dir + "/b/aggregation.jsonl")
        let from = log.records.compactMap { if case let .resumed(r) = $0 { r.fromRound } else { nil } }
        #expect(from == [0, 1], "resumed from \(from), not from the start and then from round 1's state")
        #expect(log.rounds.map(\.round) == Array(1...Self.rounds))
        let expected = try AggregationLog.read(path: reference + "/b/aggregation.jsonl")
        #expect(log.rounds.map(\.system) == expected.rounds.map(\.system))
        for round in 1...Self.rounds {
            let name = "/b/checkpoints/" + String(format: "round-%04d.safetensors", round)
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + name)) == Data(contentsOf: URL(fileURLWithPath: reference + name)), "round \(round)")
        }
    }

    /// `[server] clock = "wall"` with real processes: no [system], 2 client processes, the run
    /// completes its server updates, each the buffer as received, and says the wall clock ran.
    /// Not compared across runs: the order is what the processes delivered.
    @Test func aWallClockRunCompletesAndSaysSo() throws {
        let dir = Harness.temporaryDirectory("buffered-wall")
        try Harness.topology(name: "w", output: dir, clients: 6, rounds: 4, processes: 2, epochs: 1,
                             server: "mode = \"buffered\"\nclock = \"wall\"\nconcurrency = 4\nbuffer_size = 2\n")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let r = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 180)
        #expect(r.status == 0, "\(r.output)")
        let log = try AggregationLog.read(path: dir + "/w/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4])
        #expect(log.rounds.allSatisfy { $0.system?.buffered?.clock == "wall" && $0.system?.buffered?.updates.count == 2 })
        #expect(log.rounds.allSatisfy { r in (r.system?.buffered?.updates ?? []).allSatisfy { $0.staleness == r.round - 1 - $0.startVersion } })
        #expect(log.runStart?.config?["server.clock"] == .string("wall"))
        #expect(log.runStart?.notes.contains { $0.hasPrefix("buffered mode on the wall clock") } == true)
        #expect(log.runEnd?.status == "completed")
    }
}
