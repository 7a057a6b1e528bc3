import Foundation
import Testing
import AviaryMerge
@testable import AviaryTopology

/// `[server] mode = "buffered"`: its keys, their defaults and every refusal naming its key.
@Suite struct BufferedTopologyTests {
    static func body(_ server: String, merge: String = "", system: String = "[system]\n") -> String {
        "[run]\nname = \"b\"\n[data]\nclients = 10\n[server]\nmode = \"buffered\"\n\(server)\n\(merge)\n\(system)"
    }

    func error(_ text: String) -> String {
        do { _ = try Topology.parse(text, file: "t.toml"); return "no error" } catch { return "\(error)" }
    }

    @Test func keysAndDefaults() throws {
        let t = try Topology.parse(Self.body("concurrency = 6\nbuffer_size = 3\nstaleness = \"hinge\"\nstaleness_a = 2\nstaleness_b = 1\nmax_staleness = 5"))
        #expect(t.server.mode == .buffered)
        #expect(t.server.buffered == BufferedSettings(concurrency: 6, bufferSize: 3, staleness: .hinge(a: 2, b: 1), maxStaleness: 5))
        let d = try Topology.parse(Self.body("clients_per_round = 4"))
        #expect(d.server.buffered == BufferedSettings(concurrency: 4, bufferSize: 4, staleness: .polynomial(a: 0.5), maxStaleness: nil))
        #expect(d.config["server.mode"] == .string("buffered") && d.config["server.buffer_size"] == .int(4))
    }

    /// `checkpoint_every` defaults to `eval_every` in buffered mode (a checkpoint per evaluated
    /// model and the last), to 1 in sync mode; a written value wins; config records what ran.
    @Test func bufferedCheckpointsFollowEvaluationsUnlessWritten() throws {
        let b = try Topology.parse(Self.body("eval_every = 20"))
        #expect(b.server.checkpointEvery == 20 && b.config["server.checkpoint_every"] == .int(20))
        #expect(try Topology.parse(Self.body("")).server.checkpointEvery == 1, "eval_every's default, 1")
        let written = try Topology.parse(Self.body("eval_every = 20\ncheckpoint_every = 1"))
        #expect(written.server.checkpointEvery == 1 && written.config["server.checkpoint_every"] == .int(1))
        let sync = try Topology.parse("[run]\nname = \"s\"\n[server]\neval_every = 20\n")
        #expect(sync.server.checkpointEvery == 1 && sync.config["server.checkpoint_every"] == .int(1))
    }

    /// `[server] durable_interval`: 10 s unless written, recorded only when written, and a
    /// negative or over-a-day value is refused with its key.
    @Test func durableIntervalIsReadOnlyWhenWrittenAndRangeChecked() throws {
        let d = try Topology.parse("[run]\nname = \"s\"\n[server]\n")
        #expect(d.server.durableInterval == 10 && d.config["server.durable_interval"] == nil)
        let t = try Topology.parse("[run]\nname = \"s\"\n[server]\ndurable_interval = 0\n")
        #expect(t.server.durableInterval == 0 && t.config["server.durable_interval"] != nil)
        for bad in ["-1", "86401"] {
            #expect(error("[run]\nname = \"s\"\n[server]\ndurable_interval = \(bad)\n").contains("durable_interval"), "\(bad)")
        }
    }

    @Test func theServerMemoryBudgetCountsWhatBufferedModeHolds() throws {
        // Concurrency 6 + K 3 held deltas + 4, not clients_per_round (8) + 4.
        let t = try Topology.parse(Self.body("clients_per_round = 8\nconcurrency = 6\nbuffer_size = 3"))
        #expect(t.serverModelCopies() == 13)
        #expect(try Topology.parse("[run]\nname = \"s\"\n[data]\nclients = 10\n[server]\nclients_per_round = 8\n").serverModelCopies() == 12)
    }

    @Test func syncRunsRecordTheConfigurationTheyAlwaysDidAndWarnOfBufferedKeys() throws {
        let t = try Topology.parse("[run]\nname = \"s\"\n[server]\nconcurrency = 3\n")
        #expect(t.server.mode == .sync && t.server.buffered == nil)
        #expect(t.config["server.mode"] == nil && t.config["server.concurrency"] == nil)
        #expect(t.warnings.contains { $0.contains("server.concurrency") && $0.contains("mode = \"buffered\"") })
    }

    @Test func refusalsNameTheirKey() {
        let cases: [(String, String, String)] = [
            (Self.body("concurrency = 11"), "server.concurrency", "1...10"),
            (Self.body("concurrency = 4\nbuffer_size = 5"), "server.buffer_size", "1...4"),
            (Self.body("staleness = \"linear\""), "server.staleness", "\"hinge\""),
            (Self.body("staleness_a = -0.5"), "server.staleness_a", "≥ 0"),
            (Self.body("staleness = \"hinge\"\nstaleness_b = -1"), "server.staleness_b", "≥ 0"),
            (Self.body("max_staleness = -1"), "server.max_staleness", "≥ 0"),
            (Self.body("", system: ""), "server.mode", "[system]"),
            (Self.body("sampling = \"poisson\""), "server.sampling", "\"fixed\""),
            (Self.body("", merge: "[merge]\nstrategy = \"median\""), "server.staleness", "\"constant\""),
            (Self.body("staleness = \"constant\"\nbuffer_size = 4\nconcurrency = 4", merge: "[merge]\nstrategy = \"krum\"\nbyzantine = 1"),
             "merge.byzantine", "buffer_size = 4"),
        ]
        for (text, key, expected) in cases {
            let e = error(text)
            #expect(e.contains("'\(key)'") && e.contains(expected), "\(key): \(e)")
        }
    }

    /// `[server] clock = "wall"`: no [system] needed (nor allowed), recorded in the config,
    /// refused with what it cannot do, and the same buffered rules otherwise.
    @Test func wallClockKeyIsReadRecordedAndRefusedWhereItCannotRun() throws {
        let t = try Topology.parse(Self.body("clock = \"wall\"\nconcurrency = 4\nbuffer_size = 2", system: ""))
        var expected = BufferedSettings(concurrency: 4, bufferSize: 2)
        expected.clock = .wall
        #expect(t.server.buffered == expected)
        #expect(t.config["server.clock"] == .string("wall"))
        #expect(try Topology.parse(Self.body("")).server.buffered?.clock == .simulated)
        #expect(try Topology.parse(Self.body("")).config["server.clock"] == .string("simulated"), "run_start records which clock ran")
        let cases: [(String, String, String)] = [
            (Self.body("clock = \"wall\""), "server.clock", "no [system] section"),
            (Self.body("clock = \"sundial\""), "server.clock", "\"wall\""),
            (Self.body("clock = \"wall\"\n[evaluation]\nmode = \"federated\"", system: ""), "evaluation.mode", "\"server\""),
            (Self.body("clock = \"wall\"\nsampling = \"poisson\"", system: ""), "server.sampling", "\"fixed\""),
            (Self.body("clock = \"wall\"", merge: "[merge]\nstrategy = \"median\"", system: ""), "server.staleness", "\"constant\""),
        ]
        for (text, key, expected) in cases {
            let e = error(text)
            #expect(e.contains("'\(key)'") && e.contains(expected), "\(key): \(e)")
        }
        let sync = try Topology.parse("[run]\nname = \"s\"\n[server]\nclock = \"wall\"\n")
        #expect(sync.warnings.contains { $0.contains("server.clock") && $0.contains("mode = \"buffered\"") })
    }

    @Test func robustStrategiesRunWithConstantStalenessAndAWarningSayingWhy() throws {
        let t = try Topology.parse(Self.body("staleness = \"constant\"", merge: "[merge]\nstrategy = \"trimmed-mean\"\ntrim_beta = 0.1"))
        #expect(t.warnings.contains { $0.contains("trimmed-mean") && $0.contains("one model version") })
    }

    @Test func syncOnlySystemKeysAreIgnoredWithAWarning() throws {
        let t = try Topology.parse(Self.body("", system: "[system]\ndeadline = 20\nonline_period = 3\n"))
        #expect(t.warnings.contains { $0.contains("system.deadline") })
        #expect(t.warnings.contains { $0.contains("system.online_period") })
    }

    @Test func theExampleTopologyValidates() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../topologies/buffered.toml").path
        let t = try Topology.parse(String(contentsOfFile: file, encoding: .utf8), file: file)
        #expect(t.server.buffered == BufferedSettings(concurrency: 20, bufferSize: 10, staleness: .polynomial(a: 0.5), maxStaleness: 8))
        #expect(t.system != nil)
    }
}
