import AviaryReport
import Foundation
import Testing
import AviaryLog

/// The umbrella CLI as users run it: example-style tests that check what it prints and writes.
@Suite(.serialized) struct CommandTests {
    /// One finished run shared by the tests below (4 clients, 4 rounds, checkpoint merging on).
    static let run: (dir: String, result: Harness.Result)? = {
        let dir = Harness.temporaryDirectory("cli")
        let topo = dir + "/t.toml"
        let text = Harness.topology(name: "cli", output: dir, clients: 4, rounds: 4, processes: 2, extra: """

            [merge]
            strategy = "mwa"
            metric = "train_loss"
            penalty = 2.0

            [merge.checkpoints]
            window = 3
            metric = "val_loss"
            penalty = 1.0

            [evaluation]
            validation_fraction = 0.3
            """)
        try? text.write(toFile: topo, atomically: true, encoding: .utf8)
        guard let result = try? Harness.run("aviary", ["run", topo]) else { return nil }
        return (dir, result)
    }()

    @Test func mwaRunLogsWeightsFromTrainLoss() throws {
        let run = try #require(Self.run)
        #expect(run.result.status == 0, "\(run.result.output)")
        let log = try AggregationLog.read(path: run.dir + "/cli/aggregation.jsonl")
        #expect(log.runStart?.strategy.contains("mwa") == true)
        for r in log.rounds {
            let total = r.weights.values.reduce(0, +)
            #expect(abs(total - 1) < 1e-9, "round \(r.round) weights sum to \(total)")
            // Recompute MWA from the logged metrics: w_i ∝ loss_i^-2.
            let raw = r.weights.keys.map { (k: $0, v: pow(r.clientMetrics[$0]!["train_loss"]!, -2)) }
            let sum = raw.reduce(0) { $0 + $1.v }
            for (k, v) in raw { #expect(abs(r.weights[k]! - v / sum) < 1e-9, "round \(r.round) client \(k)") }
        }
    }

    @Test func checkpointMergeIsLoggedBesideTheLastModel() throws {
        let run = try #require(Self.run)
        let log = try AggregationLog.read(path: run.dir + "/cli/aggregation.jsonl")
        let merge = try #require(log.checkpointMerges.last)
        #expect(merge.rounds == [2, 3, 4])
        #expect(abs(merge.weights.values.reduce(0, +) - 1) < 1e-9)
        #expect(merge.lastEval != nil)
        // Weighted by the validation split's loss (never the reported test loss): w ∝ loss^-1.
        let losses = try merge.rounds.map { r in try #require(log.rounds[r - 1].eval?.validationLoss) }
        let total = losses.reduce(0) { $0 + 1 / $1 }
        for (r, loss) in zip(merge.rounds, losses) {
            #expect(abs(merge.weights[String(r)]! - (1 / loss) / total) < 1e-9, "round \(r)")
        }
        let eval = try #require(log.rounds.last?.eval)
        let validation = try #require(eval.validationSamples)
        // A seeded 30% of the server's held-out data, rounded to whole samples.
        #expect(validation == Int((Double(validation + eval.samples) * 0.3).rounded()))
        #expect(FileManager.default.fileExists(atPath: run.dir + "/cli/" + (merge.checkpoint ?? "-")))
    }

    /// Not a terminal (a pipe here): plain lines, no control codes; a checkpoint merge is printed
    /// right after the round it belongs to.
    @Test func progressIsPlainLinesWithMergesAfterTheirRound() throws {
        let run = try #require(Self.run)
        let out = run.result.output
        #expect(!out.contains("\u{1B}") && !out.contains("\r"), "control codes in piped output")
        let lines = out.split(separator: "\n").map(String.init)
        let merge = try #require(lines.firstIndex { $0.contains("merged checkpoints of rounds 2-4") }, "\(out)")
        #expect(merge > 0 && lines[merge - 1].hasPrefix("round 4/4"), "\(lines)")
    }

    @Test func logsCommandShowsEveryRoundAndWeights() throws {
        let run = try #require(Self.run)
        let out = try Harness.run("aviary", ["logs", run.dir + "/cli", "--weights"])
        #expect(out.status == 0)
        #expect(out.output.contains("run cli:"), "\(out.output)")
        for round in 1...4 { #expect(out.output.contains("\n    \(round) "), "round \(round) missing:\n\(out.output)") }
        #expect(out.output.contains("weights 0:"))
        #expect(out.output.contains("end: completed"))
    }

    @Test func logsCSVHasOneRowPerRoundMatchingTheLog() throws {
        let run = try #require(Self.run)
        let out = try Harness.run("aviary", ["logs", run.dir + "/cli", "--csv"])
        #expect(out.status == 0, "\(out.output)")
        let lines = out.output.split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(lines.count == 5)
        let log = try AggregationLog.read(path: run.dir + "/cli/aggregation.jsonl")
        let accColumn = try #require(header.firstIndex(of: "clean_accuracy"))
        for (line, record) in zip(lines.dropFirst(), log.rounds) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == header.count)
            #expect(Double(fields[accColumn]) == record.eval?.cleanAccuracy)
        }
    }

    @Test func offlineMergeOfTwoCheckpointsIsTheWeightedAverage() throws {
        let run = try #require(Self.run)
        let a = run.dir + "/cli/checkpoints/round-0001.safetensors"
        let b = run.dir + "/cli/checkpoints/round-0004.safetensors"
        let out = run.dir + "/merged.safetensors"
        // Loss 1 and 3 with p = 1: weights 3/4 and 1/4.
        let result = try Harness.run("aviary", ["merge", "--metric", "loss", "--penalty", "1", "--values", "1,3", a, b, "-o", out])
        #expect(result.status == 0, "\(result.output)")
        let fa = try Safetensors.read(path: a).flatValues()
        let fb = try Safetensors.read(path: b).flatValues()
        let fm = try Safetensors.read(path: out).flatValues()
        #expect(fm.count == fa.count)
        var worst: Float = 0
        for i in fm.indices { worst = max(worst, abs(fm[i] - (0.75 * fa[i] + 0.25 * fb[i]))) }
        #expect(worst < 1e-6, "largest deviation \(worst)")
    }

    @Test func partitionPreviewPrintsTableAndWritesHeatmap() throws {
        let dir = Harness.temporaryDirectory("part")
        let topo = dir + "/p.toml"
        try """
        [run]
        name = "p"
        output = "\(dir)"
        [data]
        dataset = "synthetic"
        clients = 5
        """.write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["partition", topo, "--svg", dir + "/h.svg"])
        #expect(out.status == 0, "\(out.output)")
        let svg = try String(contentsOfFile: dir + "/h.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        #expect(out.output.contains("heatmap: \(dir)/h.svg"))
    }

    @Test func centralisedBaselineTrains() throws {
        let dir = Harness.temporaryDirectory("train")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "t", output: dir, clients: 3, rounds: 1, processes: 1).write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["train", topo, "--epochs", "3"])
        #expect(out.status == 0, "\(out.output)")
        let accs = out.output.split(separator: "\n").filter { $0.hasPrefix("epoch") }
        #expect(accs.count == 3)
    }

    @Test func validateReportsEachFile() throws {
        let dir = Harness.temporaryDirectory("val")
        try "[run]\nname = \"ok\"\n".write(toFile: dir + "/ok.toml", atomically: true, encoding: .utf8)
        try "[run]\nname = \"bad\"\n[train]\nlearning_rate = -1\n".write(toFile: dir + "/bad.toml", atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["validate", dir + "/ok.toml", dir + "/bad.toml"])
        #expect(out.status != 0)
        #expect(out.output.contains("ok  \(dir)/ok.toml"))
        #expect(out.output.contains("train.learning_rate"))
    }

    /// `--data` opens and parses the dataset files, so a bad file fails validation rather than
    /// a run that would leave a half-made run directory; warnings are printed and do not fail.
    @Test func validateDataParsesTheDatasetFilesAndPrintsWarnings() throws {
        let dir = Harness.temporaryDirectory("valdata")
        try "label,a,b\n0,0.1,0.2\n1,0.3,oops\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        try "label,a,b\n0,0.1,0.2\n1,0.3,0.4\n0,0.5,0.6\n1,0.7,0.8\n".write(toFile: dir + "/good.csv", atomically: true, encoding: .utf8)
        for name in ["bad", "good"] {
            try "[run]\nname = \"\(name)\"\n[data]\ndataset = \"csv\"\ntrain = \"\(dir)/\(name).csv\"\nclients = 2\nlocal_test_fraction = 0.0\n[merge]\npenalty = 2\n"
                .write(toFile: dir + "/\(name).toml", atomically: true, encoding: .utf8)
        }
        let plain = try Harness.run("aviary", ["validate", dir + "/bad.toml"])
        #expect(plain.status == 0, "\(plain.output)")
        #expect(plain.output.contains("warning:") && plain.output.contains("merge.penalty"), "\(plain.output)")
        let bad = try Harness.run("aviary", ["validate", "--data", dir + "/bad.toml"])
        #expect(bad.status != 0)
        #expect(bad.output.contains("bad.csv"), "\(bad.output)")
        let good = try Harness.run("aviary", ["validate", "--data", dir + "/good.toml"])
        #expect(good.status == 0 && good.output.contains("data ok"), "\(good.output)")
    }
}
