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
}
