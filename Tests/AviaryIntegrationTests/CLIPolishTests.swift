import Foundation
import Testing
import AviaryCommands
import AviaryLog

/// What a new user meets in the first hour: run directories, names, versions, help, and
/// outputs that read well. Command output, exit codes, and files created or not.
@Suite(.serialized) struct CLIPolishTests {
    /// One small finished run, shared (1 round, so plurals are visible).
    static let base: (dir: String, topology: String, result: Harness.Result)? = {
        let dir = Harness.temporaryDirectory("polish")
        let topo = dir + "/t.toml"
        try? Harness.topology(name: "one", output: dir, clients: 3, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        guard let result = try? Harness.run("aviary", ["run", topo]) else { return nil }
        return (dir, topo, result)
    }()

    @Test func runEndsWithASummaryAndCorrectPlurals() throws {
        let run = try #require(Self.base)
        #expect(run.result.status == 0, "\(run.result.output)")
        let out = run.result.output
        #expect(out.contains("3 clients in 1 process, 1 round,"), "\(out)")
        #expect(out.contains("after 1 round"), "\(out)")
        #expect(!out.contains("1 rounds") && !out.contains("1 processes"), "\(out)")
        #expect(out.contains("run complete: \(run.dir)/one"), "\(out)")
        #expect(out.contains("best round 1: accuracy"), "\(out)")
        #expect(out.contains("final (round 1): accuracy"), "\(out)")
        #expect(out.contains("wall time"), "\(out)")
        #expect(out.contains("aviary report \(run.dir)/one"), "\(out)")
    }

    @Test func rerunGoesToAFreshDirectoryAndLeavesTheFirstUntouched() throws {
        let run = try #require(Self.base)
        let first = RunDirectory(path: run.dir + "/one")
        let log = try Data(contentsOf: URL(fileURLWithPath: first.log))
        let serverLog = try Data(contentsOf: URL(fileURLWithPath: first.serverLog))
        let endpoint = try Data(contentsOf: URL(fileURLWithPath: first.endpoint))
        let again = try Harness.run("aviary", ["run", run.topology])
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("\(run.dir)/one exists; this run goes to \(run.dir)/one-2"), "\(again.output)")
        #expect(FileManager.default.fileExists(atPath: run.dir + "/one-2/aggregation.jsonl"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.log)) == log)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.serverLog)) == serverLog)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.endpoint)) == endpoint)
    }

    @Test func nameOptionChoosesTheDirectoryAndRefusesDotDot() throws {
        let run = try #require(Self.base)
        let named = try Harness.run("aviary", ["run", run.topology, "--name", "custom"])
        #expect(named.status == 0, "\(named.output)")
        #expect(FileManager.default.fileExists(atPath: run.dir + "/custom/aggregation.jsonl"))
        let bad = try Harness.run("aviary", ["run", run.topology, "--name", ".."])
        #expect(bad.status != 0)
        #expect(bad.output.contains("--name \"..\""), "\(bad.output)")
    }

    /// `--resume` appends to the process logs after a separator and never truncates them or
    /// the aggregation log, whatever the server then does with the run.
    @Test func resumeAppendsToLogsAndKeepsTheRun() throws {
        let run = try #require(Self.base)
        let dir = RunDirectory(path: run.dir + "/one")
        let serverLog = try String(contentsOfFile: dir.serverLog, encoding: .utf8)
        let log = try Data(contentsOf: URL(fileURLWithPath: dir.log))
        _ = try Harness.run("aviary", ["run", "--resume", dir.path], timeout: 120)
        let after = try String(contentsOfFile: dir.serverLog, encoding: .utf8)
        #expect(after.hasPrefix(serverLog))
        #expect(after.contains("----- aviary run --resume, "))
        let logAfter = try Data(contentsOf: URL(fileURLWithPath: dir.log))
        #expect(logAfter.prefix(log.count) == log)

        let missing = try Harness.run("aviary", ["run", "--resume", run.dir + "/nope"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("\(run.dir)/nope is not a run to resume"), "\(missing.output)")
    }

    @Test func unwritableOutputIsReportedByKeyAndPath() throws {
        let dir = Harness.temporaryDirectory("unwritable")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "x", output: "/proc/aviary-cannot-exist", clients: 2, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["run", topo])
        #expect(out.status != 0)
        #expect(out.output.contains("[run].output") && out.output.contains("/proc/aviary-cannot-exist"), "\(out.output)")
        #expect(!out.output.contains("Error Domain"), "\(out.output)")
        let server = try Harness.run("aviary-server", ["--topology", topo])
        #expect(server.status != 0)
        #expect(server.output.contains("[run].output") && server.output.contains("/proc/aviary-cannot-exist/x"), "\(server.output)")
        #expect(!server.output.contains("Error Domain"), "\(server.output)")
    }

    @Test func everyExecutableHasVersionAndItsOwnUsageName() throws {
        for tool in ["aviary", "aviary-server", "aviary-client"] {
            let v = try Harness.run(tool, ["--version"])
            #expect(v.status == 0)
            #expect(v.output.hasPrefix(BuildInfo.version + " (commit "), "\(tool): \(v.output)")
        }
        for tool in ["aviary-server", "aviary-client"] {
            let help = try Harness.run(tool, ["--help"])
            #expect(help.output.contains("USAGE: \(tool) "), "\(tool): \(help.output)")
        }
        let sub = try Harness.run("aviary", ["server", "--help"])
        #expect(sub.output.contains("USAGE: aviary server "), "\(sub.output)")
    }

    @Test func clientShardOptionsAreValidated() throws {
        let cases: [([String], String)] = [
            (["--shard", "8/8", "--of", "100"], "I must be in 0..<8"),
            (["--shard", "0/0", "--of", "100"], "N must be at least 1"),
            (["--shard", "1/2"], "--shard needs --of"),
            (["--shard", "5/8", "--of", "4"], "clients are 0..<4"),
            (["--clients", "5-2"], "'5-2' is an empty range"),
            (["--clients", "1", "--shard", "0/1", "--of", "3"], "either --clients or --shard"),
        ]
        for (args, message) in cases {
            let out = try Harness.run("aviary-client", ["--connect", "tcp://127.0.0.1:9"] + args, timeout: 30)
            #expect(out.status != 0, "\(args)")
            #expect(out.output.contains(message), "\(args): \(out.output)")
        }
    }

    @Test func logsFitOneHundredColumnsUnlessWide() throws {
        let run = try #require(CommandTests.run)
        let narrow = try Harness.run("aviary", ["logs", run.dir + "/cli", "--weights"])
        #expect(narrow.status == 0)
        for line in narrow.output.split(separator: "\n") { #expect(line.count <= 100, "\(line.count) columns: \(line)") }
        let wide = try Harness.run("aviary", ["logs", run.dir + "/cli", "--wide"])
        #expect(wide.output.contains("client acc min"), "\(wide.output)")
        let missing = try Harness.run("aviary", ["logs", run.dir + "/cli", "--round", "99"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("no round 99; its rounds are 1…4"), "\(missing.output)")
    }

    @Test func compareWritesBesideTheRuns() throws {
        let run = try #require(CommandTests.run)
        let cwd = Harness.temporaryDirectory("cwd")
        let out = try Harness.run("aviary", ["compare", run.dir + "/cli", run.dir + "/cli/aggregation.jsonl"], in: cwd)
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("comparison: \(run.dir)/compare.html"), "\(out.output)")
        #expect(FileManager.default.fileExists(atPath: run.dir + "/compare.html"))
        #expect(!FileManager.default.fileExists(atPath: cwd + "/compare.html"))
    }

    @Test func partitionPreviewCreatesNoRunDirectory() throws {
        let dir = Harness.temporaryDirectory("preview")
        let topo = dir + "/p.toml"
        try "[run]\nname = \"p\"\noutput = \"\(dir)/runs\"\n[data]\ndataset = \"synthetic\"\nclients = 5\n"
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["partition", topo], in: dir)
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("heatmap: p-partition.svg"), "\(out.output)")
        #expect(FileManager.default.fileExists(atPath: dir + "/p-partition.svg"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/runs"))
        let explicit = try Harness.run("aviary", ["partition", topo, "-o", dir + "/h.svg"])
        #expect(explicit.status == 0 && FileManager.default.fileExists(atPath: dir + "/h.svg"))
        // --set previews another setting without a copy of the file, validated like `run`'s.
        let three = try Harness.run("aviary", ["partition", topo, "--set", "data.clients=3", "-o", dir + "/h3.svg"])
        #expect(three.status == 0 && three.output.contains("clients 3, samples"), "\(three.output)")
        let bad = try Harness.run("aviary", ["partition", topo, "--set", "data.clients=zero"])
        #expect(bad.status != 0 && bad.output.contains("data.clients"), "\(bad.output)")
    }

    @Test func validateUsesPlurals() throws {
        let dir = Harness.temporaryDirectory("plural")
        try "[run]\nname = \"one\"\nrounds = 1\n[data]\ndataset = \"synthetic\"\nclients = 1\n"
            .write(toFile: dir + "/one.toml", atomically: true, encoding: .utf8)
        let out = try Harness.run("aviary", ["validate", dir + "/one.toml"])
        #expect(out.output.contains("one, 1 client, 1 round,"), "\(out.output)")
    }
}

/// `aviary run --set`: the override reaches the server, and the run keeps the resolved topology.
@Suite(.serialized) struct OverrideCommandTests {
    @Test func overridesReachTheServerAndTheRunKeepsThem() throws {
        let dir = Harness.temporaryDirectory("set")
        try Harness.topology(name: "set", output: dir, clients: 2, rounds: 2, processes: 1)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", dir + "/t.toml", "--set", "merge.strategy=uniform", "--set", "run.rounds=3"])
        #expect(result.status == 0, "\(result.output)")
        let log = try AggregationLog.read(path: dir + "/set/aggregation.jsonl")
        #expect(log.runStart?.strategy == "uniform")
        #expect(log.rounds.count == 3)
        let saved = try String(contentsOfFile: dir + "/set/topology.toml", encoding: .utf8)
        #expect(saved.contains("uniform") && saved.contains("rounds = 3"), "\(saved)")
        let bad = try Harness.run("aviary", ["run", dir + "/t.toml", "--set", "merge.strategyx=uniform"])
        #expect(bad.status != 0 && bad.output.contains("merge.strategyx"), "\(bad.output)")
    }
}
