import Foundation
import Testing
import AviaryLog
import AviaryTopology

/// `[privacy]` in real runs (processes, sockets): every round record carries ε, `aviary logs`
/// shows it, a killed DP run resumes to the same noise and model bit for bit, and
/// `on_budget = "stop"` ends a run cleanly at the last round within the budget.
@Suite(.serialized) struct PrivacyRunTests {
    static let central = """

        [merge]
        strategy = "uniform"

        [privacy]
        mode = "central"
        clipping = "adaptive"
        clip_norm = 0.5
        noise_multiplier = 0.5
        clipped_count_stddev = 1
        delta = 1e-3
        """

    func prepare(_ dir: String, rounds: Int = 6, privacy: String = central) throws {
        try Harness.topology(name: "dp", output: dir, clients: 8, rounds: rounds, processes: 2, epochs: 1,
                             server: ReliabilityTests.resumeTopologyExtra + "\nclients_per_round = 4\nsampling = \"poisson\"",
                             extra: privacy)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
    }

    @Test func aCentralDPRunLogsEpsilonEveryRound() throws {
        let dir = Harness.temporaryDirectory("dp-run")
        try prepare(dir)
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        let account = try #require(try Topology.load(path: dir + "/t.toml").privacyAccount)
        #expect(log.rounds.count == 6)
        for r in log.rounds {
            let p = try #require(r.privacy, "round \(r.round) has no privacy record")
            #expect(p.epsilon == account.epsilon(afterRounds: r.round))
            #expect(p.noiseStd != nil && p.nextClipNorm != nil)
        }
        // The adaptive clip norm's trajectory: each round uses the one the previous round chose.
        for (a, b) in zip(log.rounds, log.rounds.dropFirst()) { #expect(a.privacy?.nextClipNorm == b.privacy?.clipNorm) }
        let text = try Harness.run("aviary", ["logs", dir + "/dp"])
        #expect(text.output.contains("ε so far") && text.output.contains("ε \(String(format: "%.3f", log.rounds.last!.privacy!.epsilon!))"), "\(text.output)")
        let validate = try Harness.run("aviary", ["validate", dir + "/t.toml"])
        #expect(validate.output.contains("6 rounds spend ε = "), "\(validate.output)")
    }

    /// Killed after round 4's tasks went out (round 3's state not yet saved): the resumed run
    /// draws the same noise for the rounds it runs again and ends with the same model.
    @Test func aKilledDPRunResumesToTheUninterruptedModel() throws {
        let (reference, dir, a, b) = try uninterruptedAndResumed(Self.central, name: "dp")
        #expect(a.rounds.map(\.sampled) == b.rounds.map(\.sampled))
        let final = "/dp/checkpoints/round-0006.safetensors"
        #expect(try Data(contentsOf: URL(fileURLWithPath: reference + final)) == Data(contentsOf: URL(fileURLWithPath: dir + final)))
    }

    @Test func onBudgetStopEndsCleanlyAtTheLastRoundWithinTheTarget() throws {
        let dir = Harness.temporaryDirectory("dp-stop")
        try prepare(dir, privacy: Self.central)
        let account = try #require(try Topology.load(path: dir + "/t.toml").privacyAccount)
        // Half-way between what 3 and 4 rounds spend: 3 rounds fit.
        let target = (account.epsilon(afterRounds: 3) + account.epsilon(afterRounds: 4)) / 2
        try prepare(dir, privacy: Self.central + "\ntarget_epsilon = \(target)\non_budget = \"stop\"")
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3])
        #expect(log.runEnd?.status == "completed")
        #expect(log.runEnd?.stopReason?.contains("privacy budget") == true, "\(String(describing: log.runEnd))")
        // The same target with on_budget = "refuse" is refused before anything runs.
        try prepare(dir, privacy: Self.central + "\ntarget_epsilon = \(target)")
        let refused = try Harness.run("aviary", ["validate", dir + "/t.toml"])
        #expect(refused.status != 0 && refused.output.contains("privacy.target_epsilon"), "\(refused.output)")
    }

    /// Adversarial (PGD) training composes with central DP: clients train on PGD examples, the
    /// server clips and noises their deltas as any others, and every round logs ε.
    @Test func adversarialTrainingRunsUnderCentralDPAndLogsEpsilon() throws {
        let dir = Harness.temporaryDirectory("dp-adv")
        try prepare(dir, rounds: 3, privacy: Self.central + """

            [adversarial]
            mode = "pgd"
            epsilon = 0.1
            step_size = 0.05
            steps = 2
            """)
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        let account = try #require(try Topology.load(path: dir + "/t.toml").privacyAccount)
        #expect(log.rounds.map(\.round) == [1, 2, 3] && log.runEnd?.status == "completed")
        for r in log.rounds {
            #expect(r.privacy?.epsilon == account.epsilon(afterRounds: r.round) && r.privacy?.noiseStd != nil)
            for c in r.accepted { #expect(r.clientMetrics[String(c)]?["adv_loss"] != nil, "round \(r.round), client \(c) did not train adversarially") }
        }
        #expect(log.rounds.contains { !$0.accepted.isEmpty })
        #expect(log.runEnd?.privacy?.epsilon == account.epsilon(afterRounds: 3))
    }

    static let local = "\n[privacy]\nmode = \"local\"\nclip_norm = 1\nnoise_multiplier = 4\n"

    /// Each client's ε comes from the rounds it reported in (Poisson sampling: 4 of 8 expected a
    /// round, so clients differ), in every round record, in run_end, and in `aviary logs`.
    @Test func aLocalDPRunLogsEachClientsEpsilonFromTheRoundsItTookPartIn() throws {
        let dir = Harness.temporaryDirectory("dp-local")
        try prepare(dir, rounds: 4, privacy: Self.local)
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        let account = try #require(try Topology.load(path: dir + "/t.toml").privacyAccount)
        var reports: [Int: Int] = [:]
        for r in log.rounds {
            let p = try #require(r.privacy)
            #expect(p.mode == "local")
            let reporters = Set(r.accepted).union(r.rejected.map(\.client)).union(r.timedOut).union(r.lost ?? [])
            for c in reporters { reports[c, default: 0] += 1 }
            var expected: [String: Double] = [:]
            for c in reporters { expected[String(c)] = account.epsilon(afterRounds: reports[c]!) }
            #expect(p.clientEpsilon == expected, "round \(r.round)")
            #expect(p.epsilon == account.epsilon(afterRounds: reports.values.max() ?? 0))
        }
        let end = try #require(log.runEnd?.privacy)
        #expect(end.participants == reports.count && end.epsilon == account.epsilon(afterRounds: reports.values.max()!))
        #expect(end.clients == Dictionary(uniqueKeysWithValues: reports.map { (String($0.key), account.epsilon(afterRounds: $0.value)) }))
        let text = try Harness.run("aviary", ["logs", dir + "/dp"])
        #expect(text.output.contains("\(reports.count) clients took part"), "\(text.output)")
        let csv = try Harness.run("aviary", ["logs", "--clients", "--csv", dir + "/dp"])
        #expect(csv.output.split(separator: "\n").first?.split(separator: ",").contains("epsilon") == true, "\(csv.output)")
    }

    /// A local-DP run killed mid-run resumes with every client's report count (the run state's
    /// `privacy_reports`): the same per-client ε as the uninterrupted run.
    @Test func aKilledLocalDPRunResumesEachClientsCount() throws {
        let (_, _, a, b) = try uninterruptedAndResumed(Self.local, name: "dpl")
        #expect(a.runEnd?.privacy == b.runEnd?.privacy && a.runEnd?.privacy != nil)
    }

    /// A 6-round run uninterrupted, and the same run killed after round 4's tasks went out and
    /// resumed: both directories and logs, the logs checked for the same rounds and privacy records.
    func uninterruptedAndResumed(_ privacy: String, name: String) throws -> (String, String, AggregationLog, AggregationLog) {
        let reference = Harness.temporaryDirectory(name + "-ref")
        try prepare(reference, privacy: privacy)
        #expect(try Harness.run("aviary", ["run", reference + "/t.toml"]).status == 0)
        let dir = Harness.temporaryDirectory(name + "-resume")
        try prepare(dir, privacy: privacy)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": "round-started:4"])
        #expect(crashed.status != 0, "the crash point was never reached:\n\(crashed.output)")
        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/dp"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")
        let a = try AggregationLog.read(path: reference + "/dp/aggregation.jsonl")
        let b = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        #expect(b.rounds.map(\.round) == [1, 2, 3, 4, 5, 6])
        #expect(a.rounds.map(\.privacy) == b.rounds.map(\.privacy))
        return (reference, dir, a, b)
    }
}

/// Adaptive clipping with client-side clipping in a real run: every client clips to the S its
/// TRAIN carried, reports its bit, the server accepts every update (each norm ≤ S) and the
/// clip norm's trajectory, moved by the noised sum of the bits, is in the log.
@Suite(.serialized) struct ClientSideAdaptiveClippingRunTests {
    @Test func clientsClipToTheRoundsClipNormAndTheTrajectoryIsLogged() throws {
        let dir = Harness.temporaryDirectory("dp-client-adaptive")
        try PrivacyRunTests().prepare(dir, rounds: 5, privacy: PrivacyRunTests.central + "\nclip_on = \"client\"")
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/dp/aggregation.jsonl")
        #expect(log.rounds.count == 5)
        for r in log.rounds {
            let p = try #require(r.privacy)
            #expect(r.rejected.isEmpty, "round \(r.round): \(r.rejected)")
            // The count is the sum of the bits the merged clients reported.
            let bits = r.accepted.map { r.clientMetrics[String($0)]?["unclipped"] }
            #expect(bits.allSatisfy { $0 == 0 || $0 == 1 }, "round \(r.round): \(bits)")
            #expect(p.unclipped == Int(bits.compactMap { $0 }.reduce(0, +)))
            #expect(p.nextClipNorm != nil)
            // The server clipped nothing beyond the clients' Float rounding of S.
            #expect((r.clipped ?? [:]).values.allSatisfy { $0 <= p.clipNorm * (1 + 1e-6) }, "round \(r.round): \(r.clipped ?? [:])")
        }
        let trajectory = log.rounds.map { $0.privacy!.clipNorm }
        #expect(trajectory[0] == 0.5 && Set(trajectory).count > 1, "\(trajectory)")
        for (a, b) in zip(log.rounds, log.rounds.dropFirst()) { #expect(a.privacy?.nextClipNorm == b.privacy?.clipNorm) }
    }
}
