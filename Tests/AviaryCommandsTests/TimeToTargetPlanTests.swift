import Foundation
import Testing
import AviaryLog
import AviaryReport
@testable import AviaryCommands

/// The plan's `time_to_target` key carried through `aviary results` (`ResultsCommand.study`):
/// runs read from their directories, grouped by seed, the table there only when the plan asks,
/// and the shipped plan's asynchronous study asks for it against a baseline.
@Suite struct TimeToTargetPlanTests {
    /// A run directory whose log evaluates every round: accuracy `accuracies[r]` at simulated
    /// `seconds × (r + 1)`, 0.1 s of server time per round, 10 s of wall time.
    static func writeRun(_ dir: String, seed: Int, seconds: Double, accuracies: [Double], mode: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "[run]\nname = \"r\"\n[seeds]\ntraining = \(seed)\n[server]\nround_timeout = \(mode == "sync" ? 60 : 61)\n"
            .write(toFile: dir + "/topology.toml", atomically: true, encoding: .utf8)
        let writer = try AggregationLogWriter(path: dir + "/aggregation.jsonl")
        try writer.append(.runStart(RunStartRecord(run: "r", time: "t", aviaryVersion: "0", seeds: .init(partition: 1, sampling: 2, training: UInt64(seed)),
                                                   rounds: accuracies.count, clients: 2, clientsPerRound: 2, model: "mlp", parameters: 10,
                                                   strategy: "fedavg", dataset: "synthetic", partition: "natural", partitionStats: nil, notes: [])))
        for (i, a) in accuracies.enumerated() {
            var r = RoundRecord(round: i + 1, time: "t", durationSeconds: 1, sampled: [0, 1], accepted: [0, 1], rejected: [], failed: [],
                                timedOut: [], weights: [:], clientMetrics: [:], updateNorm: 1,
                                eval: Evaluation(cleanAccuracy: a, cleanLoss: 1, samples: 10), checkpoint: nil, modelKept: false)
            r.system = SystemRoundRecord(roundSeconds: seconds, clockSeconds: seconds * Double(i + 1), offline: [], stragglers: [])
            r.serverSeconds = 0.1
            try writer.append(.round(r))
        }
        try writer.append(.runEnd(RunEndRecord(time: "t", roundsCompleted: accuracies.count, durationSeconds: 10, status: "completed",
                                               finalEval: Evaluation(cleanAccuracy: accuracies.last!, cleanLoss: 1, samples: 10))))
    }

    @Test func theKeyPutsTheTableInTheDocumentFromTheRunsOnDisk() throws {
        let root = NSTemporaryDirectory() + "aviary-ttt-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Baseline "sync": final accuracy 0.8 in both seeds, first reached at 3 × 20 s = 60 s.
        for seed in [1, 2] { try Self.writeRun(root + "/sync/s\(seed)", seed: seed, seconds: 20, accuracies: [0.5, 0.7, 0.8], mode: "sync") }
        // "fast": reaches 0.8 at round 2 of 15 s (30 s) in one seed, round 3 (45 s) in the other.
        try Self.writeRun(root + "/fast/s1", seed: 1, seconds: 15, accuracies: [0.6, 0.85, 0.9], mode: "buffered")
        try Self.writeRun(root + "/fast/s2", seed: 2, seconds: 15, accuracies: [0.6, 0.7, 0.8], mode: "buffered")
        let text = "[[study]]\ntitle = \"A\"\nruns = [\"\(root)/sync\", \"\(root)/fast\"]\nbaseline = \"sync\"\n"
        let asked = try StudyPlan(text: text + "time_to_target = true\n", file: "p.toml").studies[0]
        let study = try ResultsCommand.study(asked, lastK: 2)
        #expect(study.timeToTarget && study.groups.map(\.label) == ["sync", "fast"])
        let md = ResultsDocument(studies: [study], lastK: 2, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(md.contains("first evaluation at or above 0.800 (**sync**'s final clean accuracy"), "\(md)")
        // 60 s both seeds: 1.0 min; server share 3 × 0.1 s over 10 s.
        #expect(md.contains("| **sync** (baseline) | 2/2 | 1.0 ± 0.0 min | 1.00 | 3.0 % ± 0.0 |"), "\(md)")
        // 30 s and 45 s: 0.6 ± 0.2 min, 0.625 of the baseline.
        #expect(md.contains("| fast | 2/2 | 0.6 ± 0.2 min | 0.62 | 3.0 % ± 0.0 |"), "\(md)")
        let notAsked = try ResultsCommand.study(try StudyPlan(text: text, file: "p.toml").studies[0], lastK: 2)
        #expect(!notAsked.timeToTarget)
        let plain = ResultsDocument(studies: [notAsked], lastK: 2, command: "c", build: "b", date: "d", suiteSeconds: nil).markdown()
        #expect(!plain.contains("Simulated time to the baseline's accuracy"))
    }

    @Test func theShippedPlansAsynchronousStudyAsksForTimeToTargetAgainstSync() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../topologies/experiments/plan.toml").path
        let plan = try StudyPlan(text: String(contentsOfFile: file, encoding: .utf8), file: file)
        let timed = plan.studies.filter(\.timeToTarget)
        #expect(timed.count == 1)
        let study = try #require(timed.first)
        #expect(study.baseline == "system.straggler_policy=drop")
        #expect(study.runs.first == "runs/exp-async-sync" && study.runs.contains("runs/exp-async-fedbuff-20"))
    }
}
