import Foundation
import Testing
import AviaryLog

/// `aviary compare` and `aviary results` over real runs that differ by strategy and by seed.
@Suite(.serialized) struct ResultsCommandTests {
    /// Two strategies × two training seeds of a tiny synthetic federation, in one directory.
    static let runs: (dir: String, study: String, statuses: [Int32])? = {
        let dir = Harness.temporaryDirectory("results")
        let study = dir + "/study"
        let topo = dir + "/t.toml"
        let text = Harness.topology(name: "r", output: study, clients: 6, rounds: 3, processes: 2, extra: """

            [evaluation]
            robust = true
            subset = 100
            epsilon = 0.3
            step_size = 0.05
            steps = 10
            """)
        try? text.write(toFile: topo, atomically: true, encoding: .utf8)
        var statuses: [Int32] = []
        for strategy in ["fedavg", "median"] {
            for seed in [1, 2] {
                guard let r = try? Harness.run("aviary", ["run", topo, "--name", "\(strategy)-s\(seed)",
                                                          "--set", "merge.strategy=\(strategy)", "--set", "seeds.training=\(seed)"])
                else { return nil }
                statuses.append(r.status)
            }
        }
        return (dir, study, statuses)
    }()

    @Test func compareGroupsRunsThatDifferOnlyBySeed() throws {
        let runs = try #require(Self.runs)
        #expect(runs.statuses == [0, 0, 0, 0])
        let out = try Harness.run("aviary", ["compare", runs.study, "--last", "2"])
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("merge.strategy=fedavg") && out.output.contains("merge.strategy=median"), "\(out.output)")
        #expect(out.output.contains("clean_acc last 2") && out.output.contains("2/2"), "\(out.output)")
        let html = try String(contentsOfFile: runs.study + "/compare.html", encoding: .utf8)
        #expect(html.contains("Mean ± std across seeds") && html.contains("<polygon"))
        let flat = try Harness.run("aviary", ["compare", runs.study, "--no-group"])
        #expect(flat.status == 0 && flat.output.contains("fedavg-s1") && !flat.output.contains("2/2"), "\(flat.output)")
    }

    @Test func resultsTabulateTheStudyWithAStrongerAttack() throws {
        let runs = try #require(Self.runs)
        let plan = runs.dir + "/studies.toml"
        try """
            last_k = 2
            [[study]]
            title = "Strategies"
            runs = ["\(runs.study)"]
            baseline = "merge.strategy=fedavg"
            attacks = ["pgd:eps=0.3,steps=20,step=0.05"]
            skew = true
            """.write(toFile: plan, atomically: true, encoding: .utf8)
        let md = runs.dir + "/RESULTS.md"
        let out = try Harness.run("aviary", ["results", plan, "-o", md, "--suite-seconds", "90"])
        #expect(out.status == 0, "\(out.output)")
        let text = try String(contentsOfFile: md, encoding: .utf8)
        #expect(text.contains("## 1. Strategies"))
        #expect(text.contains("| **merge.strategy=fedavg** (baseline) | 2/2 |"), "\(text)")
        #expect(text.contains("| merge.strategy=median | 2/2 |"), "\(text)")
        #expect(text.contains("final under pgd:eps=0.3,steps=20,step=0.05"))
        #expect(text.contains("that invocation took 90 s"))
        #expect(text.contains("| `data.clients` | `6` |"))
        // The stronger attack ran once per run and was kept beside it.
        let evals = try FileManager.default.contentsOfDirectory(atPath: runs.study + "/fedavg-s1/evals")
        #expect(evals.count == 1)
        // Logged clean accuracy of each run's last round, averaged: the table's final column for fedavg.
        let finals = try ["fedavg-s1", "fedavg-s2"].map { name -> Double in
            let log = try AggregationLog.read(path: runs.study + "/\(name)/aggregation.jsonl")
            return try #require(log.runEnd?.finalEval?.cleanAccuracy)
        }
        let mean = String(format: "%.3f", (finals[0] + finals[1]) / 2)
        #expect(text.contains("| \(mean) ± "), "\(text)")
        // A run without run_end (interrupted) is counted as such in the table and warned about.
        let partial = runs.dir + "/partial"
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: runs.study + "/median-s1", toPath: partial + "/median-s1")
        let logPath = partial + "/median-s1/aggregation.jsonl"
        let kept = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").filter { !$0.contains("\"run_end\"") }
        try (kept.joined(separator: "\n") + "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
        try "[[study]]\ntitle = \"Partial\"\nruns = [\"\(partial)\"]\n".write(toFile: plan, atomically: true, encoding: .utf8)
        let warned = try Harness.run("aviary", ["results", plan, "-o", md])
        #expect(warned.status == 0 && warned.output.contains("warning: runs that did not complete are in Partial…: partial"), "\(warned.output)")
        #expect(try String(contentsOfFile: md, encoding: .utf8).contains("| partial | 0/1 |"))
        // A plan naming a directory without runs is refused, naming it.
        try "[[study]]\ntitle = \"X\"\nruns = [\"\(runs.dir)/none\"]\n".write(toFile: plan, atomically: true, encoding: .utf8)
        let bad = try Harness.run("aviary", ["results", plan, "-o", md])
        #expect(bad.status != 0 && bad.output.contains("no runs under \(runs.dir)/none"), "\(bad.output)")
    }

    /// The checkpoint-merging study on the same saved runs: merges of the last W checkpoints by
    /// metric × penalty, scored and kept beside each run; one cell agrees with `aviary merge
    /// --run` then `aviary eval` on the merged file.
    @Test func checkpointMergeStudyOnTheSavedRuns() throws {
        let runs = try #require(Self.runs)
        let plan = runs.dir + "/merge-study.toml"
        let attack = "pgd:eps=0.3,steps=10,step=0.05"
        try """
            [[study]]
            title = "Merging"
            runs = ["\(runs.study)"]
            attacks = ["\(attack)"]
            [study.checkpoint_merge]
            windows = [2, 3]
            metrics = ["train_loss", "steps"]
            penalties = [0, 1, 4]
            samples = 50
            """.write(toFile: plan, atomically: true, encoding: .utf8)
        let md = runs.dir + "/MERGE.md"
        let out = try Harness.run("aviary", ["results", plan, "-o", md])
        #expect(out.status == 0, "\(out.output)")
        let text = try String(contentsOfFile: md, encoding: .utf8)
        #expect(text.contains("**Checkpoint merging: weighted against uniform.**"), "\(text)")
        #expect(text.contains("| merge.strategy=fedavg: merge | runs | clean |"), "\(text)")
        #expect(text.contains("| last checkpoint | 2 |") && text.contains("| w3 uniform (vs last: "), "\(text)")
        #expect(text.contains("| w3 train_loss p=4 | 2 |") && text.contains("| w2 steps p=1 | 2 |"), "\(text)")
        #expect(text.contains("Holm p adjusted across all 16 weighted settings") && text.contains("The paper's claim"), "\(text)")
        // Kept beside the run: last + 2 windows × (uniform + 2 metrics × 2 penalties).
        let cachePath = runs.study + "/fedavg-s1/evals/checkpoint-merges.json"
        let cache = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cachePath))) as? [String: [String: Double]])
        #expect(cache.count == 11, "\(cache.keys.sorted())")
        let key = try #require(cache.keys.first { $0.hasPrefix("w3 train_loss p=4 |") })
        // The same merge by hand: aviary merge --run, then aviary eval of the file.
        let merged = runs.dir + "/w3-train-p4.safetensors", json = runs.dir + "/w3-train-p4.json"
        let merge = try Harness.run("aviary", ["merge", "--run", runs.study + "/fedavg-s1", "--rounds", "1-3",
                                               "--metric", "train_loss", "--penalty", "4", "-o", merged])
        #expect(merge.status == 0, "\(merge.output)")
        let eval = try Harness.run("aviary", ["eval", merged, "--topology", runs.study + "/fedavg-s1/topology.toml",
                                              "--attack", attack, "--samples", "50", "--json", json])
        #expect(eval.status == 0, "\(eval.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let rows = try #require(report["rows"] as? [[String: Any]])
        #expect(rows.first?["accuracy"] as? Double == cache[key]?["clean"], "\(rows) against \(cache[key]!)")
        #expect(rows.last?["accuracy"] as? Double == cache[key]?["robust"])
        // adv_loss on clean runs: refused, naming the round and the metric.
        try String(contentsOfFile: plan, encoding: .utf8).replacingOccurrences(of: "\"steps\"]", with: "\"adv_loss\"]")
            .write(toFile: plan, atomically: true, encoding: .utf8)
        let refused = try Harness.run("aviary", ["results", plan, "-o", md])
        #expect(refused.status != 0 && refused.output.contains("has no adv_loss"), "\(refused.output)")
    }
}
