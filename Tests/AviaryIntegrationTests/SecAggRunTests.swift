import Foundation
import Testing
import AviaryTestSupport
import AviaryLog

/// `[secagg]` with real processes: 20 Fashion-MNIST clients merged by MWA under secure
/// aggregation, 3 of them killed mid-round (after sharing their keys, before masking), reach
/// the accuracy of the same run in clear with the same 3 clients killed in the same round:
/// only quantisation noise tells them apart.
@Suite(.serialized, .enabled(if: Prerequisite.enabled(FashionMNISTFixture.isAvailable), FashionMNISTFixture.skipReason))
struct SecAggRunTests {
    static let victims = [17, 18, 19]

    static func topology(output: String, name: String, secAgg: Bool) -> String {
        """
        [run]
        name = "\(name)"
        rounds = 3
        output = "\(output)"

        [seeds]
        partition = 11
        sampling = 12
        training = 13

        [data]
        dataset = "fashion-mnist"
        clients = 20
        partition = "iid"
        train_limit = 3000

        [model]
        kind = "mlp"
        hidden = [32]

        [train]
        batch_size = 10
        learning_rate = 0.05

        [merge]
        strategy = "mwa"
        metric = "train_loss"
        penalty = 1
        max_update_norm_ratio = 0

        [evaluation]
        test_samples = 1000

        [server]
        clients_per_round = 20
        round_timeout = 60
        registration_timeout = 60
        # The other integration tests' heartbeat: aviary-client masks on its SecAgg thread, so
        # its socket loop keeps answering while it does.
        heartbeat_interval = 0.5
        max_lost_share = 0.2

        [secagg]
        enabled = \(secAgg)
        quantization_bits = 20
        """
    }

    /// One hand-started federation: one process hosting clients 0–16, and one process per victim
    /// that kills itself at `crashAt` in round 2.
    func run(secAgg: Bool, in dir: String) throws -> AggregationLog {
        let name = secAgg ? "secagg" : "plain"
        let topo = dir + "/\(name).toml"
        try Self.topology(output: dir, name: name, secAgg: secAgg).write(toFile: topo, atomically: true, encoding: .utf8)
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/\(name)", log: dir + "/\(name)-server.out")
        var processes = [server]
        defer { for p in processes where p.isRunning { p.terminate() } }
        let endpoint = try #require(listening, "the server did not listen; see \(dir)/\(name)-server.out")
        processes.append(try Harness.start("aviary-client", ["--connect", endpoint, "--clients", (0..<17).map(String.init).joined(separator: ",")],
                                           log: dir + "/\(name)-main.out"))
        // SecAgg: killed on round 2's stage 3 (masked input), after its shares went out, so the
        // server must reconstruct its pairwise masks. In clear: killed on round 2's TRAIN.
        let crashAt = secAgg ? "client-secagg:2:3" : "client-train:2"
        for v in Self.victims {
            processes.append(try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "\(v)"],
                                               log: dir + "/\(name)-victim-\(v).out", environment: ["AVIARY_CRASH_AT": crashAt]))
        }
        let deadline = Date().addingTimeInterval(300)
        while server.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!server.isRunning, "the \(name) run did not finish in 300 s; see \(dir)/\(name)-server.out")
        #expect(server.terminationStatus == 0, "see \(dir)/\(name)-server.out")
        return try AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl")
    }

    @Test func mwaUnderSecAggWithThreeClientsKilledMidRoundMatchesTheRunInClear() throws {
        let dir = Harness.temporaryDirectory("secagg-run")
        let secure = try run(secAgg: true, in: dir)
        let plain = try run(secAgg: false, in: dir)
        #expect(secure.runEnd?.status == "completed" && plain.runEnd?.status == "completed")
        #expect(secure.rounds.map(\.round) == [1, 2, 3])

        let records = secure.rounds.map(\.secagg)
        #expect(records[0]?.survivors == [20, 20, 20, 20], "\(String(describing: records[0]))")
        // Round 2: the victims shared their keys, then died before masking.
        #expect(records[1]?.survivors == [20, 20, 17, 17], "\(String(describing: records[1]))")
        #expect(secure.rounds[1].lost == Self.victims && secure.rounds[1].accepted == Array(0..<17))
        #expect(records[2]?.participants == 17)
        for (r, s) in zip(secure.rounds, records) {
            let s = try #require(s, "round \(r.round) has no secagg record")
            #expect(s.failure == nil && s.weightTotal != nil, "round \(r.round): \(s)")
            #expect(s.stageBytesUp.allSatisfy { $0 > 0 } && s.stageBytesDown.allSatisfy { $0 > 0 })
            // The server never sees a client's weight or metrics under SecAgg.
            #expect(r.weights.isEmpty && r.clientMetrics.isEmpty)
            #expect(!r.modelKept)
        }
        #expect(plain.rounds.allSatisfy { $0.secagg == nil })
        #expect(plain.rounds[1].accepted.count == 17)

        let a = try #require(secure.rounds.last?.eval?.cleanAccuracy), b = try #require(plain.rounds.last?.eval?.cleanAccuracy)
        #expect(abs(a - b) <= 0.01, "SecAgg \(a) vs in clear \(b)")
        #expect(b > 0.5, "the plain run did not learn: \(b)")
    }
}

/// A SecAgg run whose server is killed mid-round resumes to the uninterrupted run's model bit
/// for bit: the replayed round draws fresh keys, but its quantised inputs are seeded and the
/// masks cancel exactly, so the same integers are summed.
@Suite(.serialized) struct SecAggResumeTests {
    func prepare(_ dir: String) throws {
        try Harness.topology(name: "sa", output: dir, clients: 6, rounds: 4, processes: 2, epochs: 1,
                             server: ReliabilityTests.resumeTopologyExtra,
                             extra: "\n[merge]\nstrategy = \"fedavg\"\nmax_update_norm_ratio = 0\n\n[secagg]\nenabled = true\n")
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
    }

    @Test func aServerKilledMidSecAggRoundResumesToTheUninterruptedModel() throws {
        let reference = Harness.temporaryDirectory("secagg-ref")
        try prepare(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"], timeout: 180)
        #expect(full.status == 0, "\(full.output)")
        let dir = Harness.temporaryDirectory("secagg-resume")
        try prepare(dir)
        // Round 3's TRAIN and stage 1 are out when the server dies: the round is mid-SecAgg.
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 180, environment: ["AVIARY_CRASH_AT": "round-started:3"])
        #expect(crashed.status != 0, "the crash point was never reached:\n\(crashed.output)")
        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/sa"], timeout: 180)
        #expect(resumed.status == 0, "\(resumed.output)")
        let a = try AggregationLog.read(path: reference + "/sa/aggregation.jsonl")
        let b = try AggregationLog.read(path: dir + "/sa/aggregation.jsonl")
        #expect(b.rounds.map(\.round) == [1, 2, 3, 4])
        #expect(a.rounds.map { $0.secagg?.weightTotal } == b.rounds.map { $0.secagg?.weightTotal })
        #expect(b.rounds.allSatisfy { $0.secagg?.survivors == [6, 6, 6, 6] })
        let final = "/sa/checkpoints/round-0004.safetensors"
        #expect(try Data(contentsOf: URL(fileURLWithPath: reference + final)) == Data(contentsOf: URL(fileURLWithPath: dir + final)))
    }

    /// Hand-started clients outlive the server: after `aviary-server --resume` they start the
    /// replayed round's SecAgg over with fresh keys (not as a repeat of the dead server's stage 1),
    /// so every client survives every stage and the model is the uninterrupted run's.
    @Test func handStartedClientsRejoinAReplayedSecAggRound() throws {
        func topology(_ dir: String) throws {
            try Harness.topology(name: "sa", output: dir, clients: 6, rounds: 4, processes: 2, epochs: 1,
                                 server: "checkpoint_every = 1\nheartbeat_interval = 0.5\nbind = \"ipc://\(dir)/server.sock\"",
                                 extra: "\n[merge]\nstrategy = \"fedavg\"\nmax_update_norm_ratio = 0\n\n[secagg]\nenabled = true\n")
                .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        }
        let reference = Harness.temporaryDirectory("secagg-hand-ref")
        try topology(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"], timeout: 180)
        #expect(full.status == 0, "\(full.output)")
        let dir = Harness.temporaryDirectory("secagg-hand")
        try topology(dir)
        let socket = "ipc://\(dir)/server.sock"
        let restart = try Harness.killAndResumeServer(
            topology: dir + "/t.toml", runDirectory: dir + "/sa", crashAt: "round-started:3",
            clients: [["--connect", socket, "--clients", "0,1,2"], ["--connect", socket, "--clients", "3,4,5"]], logs: dir)
        #expect(restart.killed && restart.clientsWaited)
        #expect(restart.resumedStatus == 0, "see \(dir)/server2.out")
        #expect(restart.clientStatuses.allSatisfy { $0 == 0 }, "every client finished cleanly")
        let log = try AggregationLog.read(path: dir + "/sa/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4])
        #expect(log.rounds.allSatisfy { $0.secagg?.survivors == [6, 6, 6, 6] }, "\(log.rounds.map { $0.secagg?.survivors ?? [] })")
        let final = "/sa/checkpoints/round-0004.safetensors"
        #expect(try Data(contentsOf: URL(fileURLWithPath: reference + final)) == Data(contentsOf: URL(fileURLWithPath: dir + final)))
    }
}

/// Central DP on the secure sum with real processes (docs/PRIVACY.md, "With secure
/// aggregation"): clients clip to S and mask, the server adds the noise to the unmasked sum.
/// Without noise the run matches DP-FedAvg in clear with client-side clipping up to
/// quantisation; with noise each round records its std z·S′/n and a growing ε.
@Suite(.serialized) struct SecAggPrivacyRunTests {
    func run(_ name: String, secAgg: Bool, noise: Double) throws -> AggregationLog {
        let dir = Harness.temporaryDirectory("secagg-dp-\(name)")
        let privacy = "\n[privacy]\nmode = \"central\"\nclip_on = \"client\"\nclip_norm = 0.5\nnoise_multiplier = \(noise)\n"
        let extra = "\n[merge]\nstrategy = \"fedavg\"\nmax_update_norm_ratio = 0\n" + privacy + (secAgg ? "\n[secagg]\nenabled = true\nquantization_bits = 20\n" : "")
        try Harness.topology(name: name, output: dir, clients: 6, rounds: 3, processes: 2, epochs: 1,
                             server: "clients_per_round = 6", extra: extra)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 180)
        #expect(result.status == 0, "\(result.output)")
        return try AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl")
    }

    @Test func withoutNoiseTheSecureSumMatchesDPFedAvgInClear() throws {
        let secure = try run("dps0", secAgg: true, noise: 0)
        let clear = try run("dpc0", secAgg: false, noise: 0)
        #expect(secure.rounds.count == 3 && clear.rounds.count == 3)
        for (s, c) in zip(secure.rounds, clear.rounds) {
            #expect(s.secagg?.survivors == [6, 6, 6, 6] && c.secagg == nil)
            #expect(s.privacy?.mode == "central" && s.privacy?.noiseStd == 0)
            #expect(!s.modelKept && s.weights.isEmpty)
            let a = try #require(s.eval?.cleanLoss), b = try #require(c.eval?.cleanLoss)
            // 20-bit quantisation of each clipped delta is the only difference.
            #expect(abs(a - b) < 1e-3, "round \(s.round): loss \(a) under SecAgg vs \(b) in clear")
        }
    }

    @Test func withNoiseEachRoundRecordsItsStdAndTheGrowingEpsilon() throws {
        let log = try run("dps1", secAgg: true, noise: 1)
        let records = log.rounds.map(\.privacy)
        #expect(records.count == 3 && records.allSatisfy { $0?.noiseStd != nil })
        // std = z·(S + step·√d)/n: above z·S/n = 0.5/6 by the 20-bit grid's bound.
        for r in records { #expect(r!.noiseStd! > 0.5 / 6 && r!.noiseStd! < 0.5 / 6 * 1.01, "\(String(describing: r))") }
        let eps = records.compactMap { $0?.epsilon }
        #expect(eps.count == 3 && eps[0] < eps[1] && eps[1] < eps[2], "\(eps)")
        #expect(log.runEnd?.status == "completed")
    }
}
