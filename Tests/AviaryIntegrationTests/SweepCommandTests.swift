import Foundation
import Testing
import AviaryLog

/// `aviary sweep` on a tiny synthetic topology: real server and client processes per run.
@Suite(.serialized) struct SweepCommandTests {
    static func topology(_ dir: String) throws -> String {
        let path = dir + "/t.toml"
        try Harness.topology(name: "tiny", output: dir + "/runs", clients: 4, rounds: 2, processes: 2, epochs: 1,
                             extra: "\n[merge]\nstrategy = \"mwa\"\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let grid = ["--grid", "merge.penalty=0,1", "--seeds", "1,2", "--parallel", "2", "--name", "sw"]

    @Test func gridTimesSeedsRunsSkipsCompletedRunsAndRerunsAnIncompleteOne() throws {
        let dir = Harness.temporaryDirectory("sweep")
        let file = try Self.topology(dir)
        let first = try Harness.run("aviary", ["sweep", file] + Self.grid)
        #expect(first.status == 0, "\(first.output)")
        let index = try SweepIndex.read(path: dir + "/runs/sw/sweep.json")
        #expect(index.runs.map(\.name) == ["penalty=0,seed=1", "penalty=0,seed=2", "penalty=1,seed=1", "penalty=1,seed=2"])
        #expect(index.runs.allSatisfy { $0.status == "completed" && $0.wallSeconds != nil }, "\(index.runs)")
        #expect(index.grid == [.init(key: "merge.penalty", values: ["0", "1"])] && index.seeds == [1, 2])
        for run in index.runs {
            let log = try AggregationLog.read(path: run.directory + "/aggregation.jsonl")
            let config = try #require(log.runStart?.config)
            #expect(config["merge.penalty"] == run.settings["merge.penalty"])
            #expect(config["seeds.base"] == .int(run.seed!))
            #expect(log.runStart?.seeds.partition == UInt64(run.seed! + 1), "seeds derive from the sweep's seed")
            #expect(config["run.name"] == .string(run.name))
            // Every section of the topology, defaults included.
            for section in ["run", "seeds", "data", "model", "train", "adversarial", "evaluation", "merge", "server", "processes"] {
                #expect(config.keys.contains { $0.hasPrefix(section + ".") }, "config lacks [\(section)]")
            }
            #expect(config["train.learning_rate"] == .double(0.05) && config["merge.metric"] == .string("train_loss"))
        }

        // Again: everything is complete, nothing runs.
        let logPath = index.runs[1].directory + "/aggregation.jsonl"
        let before = try Data(contentsOf: URL(fileURLWithPath: logPath))
        let second = try Harness.run("aviary", ["sweep", file] + Self.grid)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("4 already complete") && !second.output.contains("start "), "\(second.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: logPath)) == before)

        // An interrupted run (no run_end) runs again from scratch; the others stay.
        let lines = String(decoding: before, as: UTF8.self).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
        let third = try Harness.run("aviary", ["sweep", file] + Self.grid)
        #expect(third.status == 0, "\(third.output)")
        #expect(third.output.contains("start penalty=0,seed=2") && !third.output.contains("start penalty=1"), "\(third.output)")
        #expect(try AggregationLog.read(path: logPath).runEnd?.status == "completed")
        #expect(try SweepIndex.read(path: dir + "/runs/sw/sweep.json").runs.allSatisfy { $0.status == "completed" })
    }

    @Test func aBadGridValueIsRefusedBeforeAnythingRuns() throws {
        let dir = Harness.temporaryDirectory("sweep-bad")
        let file = try Self.topology(dir)
        let out = try Harness.run("aviary", ["sweep", file, "--grid", "merge.penalty=0,11", "--seeds", "1"])
        #expect(out.status != 0)
        #expect(out.output.contains("penalty=11,seed=1") && out.output.contains("merge.penalty"), "\(out.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/runs"))
    }

    @Test func aFailedRunIsNamedAndTheSweepExitsNonZero() throws {
        let dir = Harness.temporaryDirectory("sweep-fail")
        let file = try Self.topology(dir)
        let bin = try Harness.fakeBin(in: dir, clientScript: "exit 3\n")
        let out = try Harness.run("aviary", ["sweep", file, "--seeds", "5", "--name", "f"], bin: bin)
        #expect(out.status != 0)
        #expect(out.output.contains("did not complete") && out.output.contains("seed=5: failed"), "\(out.output)")
        let index = try SweepIndex.read(path: dir + "/runs/f/sweep.json")
        #expect(index.runs.map(\.status) == ["failed"] && index.runs[0].error != nil)
    }
}

/// `aviary merge --run` on a run's own checkpoints and logged metrics, scored by `aviary eval`;
/// checkpoint merges in `aviary logs` and its CSV.
@Suite(.serialized) struct MergeRunTests {
    @Test func mergeFromTheRunReproducesTheServersCheckpointMerge() throws {
        let dir = Harness.temporaryDirectory("merge-run")
        let file = dir + "/t.toml"
        try Harness.topology(name: "mr", output: dir, clients: 4, rounds: 4, processes: 2, epochs: 1,
                             extra: "\n[merge.checkpoints]\nwindow = 3\npenalty = 1\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let run = try Harness.run("aviary", ["run", file])
        #expect(run.status == 0, "\(run.output)")
        let log = try AggregationLog.read(path: dir + "/mr/aggregation.jsonl")
        let serverMerge = try #require(log.checkpointMerges.last)
        #expect(serverMerge.rounds == [2, 3, 4])

        let merged = dir + "/merged.safetensors"
        let merge = try Harness.run("aviary", ["merge", "--run", dir + "/mr", "--rounds", "2-4", "--metric", "val_loss", "--penalty", "1", "-o", merged])
        #expect(merge.status == 0, "\(merge.output)")
        let json = dir + "/eval.json"
        let eval = try Harness.run("aviary", ["eval", merged, "--topology", dir + "/mr/topology.toml", "--json", json])
        #expect(eval.status == 0, "\(eval.output)")
        struct Row: Decodable { var attack: String; var accuracy: Double; var loss: Double? }
        struct Report: Decodable { var rows: [Row] }
        let rows = try JSONDecoder().decode(Report.self, from: try #require(FileManager.default.contents(atPath: json))).rows
        #expect(rows[0].accuracy == serverMerge.eval.cleanAccuracy && rows[0].loss == serverMerge.eval.cleanLoss, "\(rows)")

        let missing = try Harness.run("aviary", ["merge", "--run", dir + "/mr", "--rounds", "3-5", "--metric", "val_loss", "-o", dir + "/x.safetensors"])
        #expect(missing.status != 0 && missing.output.contains("no round 5"), "\(missing.output)")
        try FileManager.default.removeItem(atPath: dir + "/mr/checkpoints/round-0003.safetensors")
        let noFile = try Harness.run("aviary", ["merge", "--run", dir + "/mr", "--rounds", "2-4", "--metric", "round", "-o", dir + "/x.safetensors"])
        #expect(noFile.status != 0 && noFile.output.contains("round 3 has no checkpoint"), "\(noFile.output)")

        let table = try Harness.run("aviary", ["logs", dir + "/mr"])
        #expect(table.output.contains("checkpoint merge of rounds 2-4 (val_loss, p=1)"), "\(table.output)")
        #expect(table.output.hasPrefix("experiment: data: synthetic / natural, 4 clients"), "\(table.output)")
        let csv = try Harness.run("aviary", ["logs", dir + "/mr", "--csv"]).output.split(separator: "\n")
        let header = csv[0].split(separator: ",", omittingEmptySubsequences: false)
        let row4 = csv[4].split(separator: ",", omittingEmptySubsequences: false)
        let column = try #require(header.firstIndex(of: "merged_clean_accuracy"))
        #expect(row4[try #require(header.firstIndex(of: "merged_rounds"))] == "2 3 4")
        #expect(Double(row4[column]) == serverMerge.eval.cleanAccuracy)
        #expect(csv[3].split(separator: ",", omittingEmptySubsequences: false)[column] == "")
    }
}
