import Foundation
import Testing
import AviaryLog

/// Top-k error feedback across crashes: the residuals live with the clients (their state
/// directory, under the run directory when `aviary run` starts them), so a server killed with
/// SIGKILL and `aviary run --resume` (which starts new client processes) still ends with the
/// uninterrupted run's model bit for bit. Without the residuals the resumed clients would start
/// from zero and the models would differ.
@Suite(.serialized) struct ErrorFeedbackResumeTests {
    static let compression = "\n[compression]\nencoding = \"topk\"\ntopk_fraction = 0.05\n"

    func prepare(_ dir: String, extra: String = "") throws {
        try Harness.topology(name: "ef", output: dir, clients: 4, rounds: 6, processes: 2, epochs: 1,
                             server: ReliabilityTests.resumeTopologyExtra, extra: Self.compression + extra)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
    }

    func finalCheckpoint(_ dir: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: dir + "/ef/checkpoints/round-0006.safetensors"))
    }

    /// "round-started:4": round 4's tasks are out and round 3's state is not yet saved, so the
    /// clients hold residuals of rounds the resumed server runs again. "round-saved:4": the clean
    /// case, killed between rounds.
    @Test(arguments: ["round-started:4", "round-saved:4"])
    func aKilledTopkRunResumesToTheUninterruptedModel(_ crashPoint: String) throws {
        let reference = Harness.temporaryDirectory("ef-ref")
        try prepare(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")

        let dir = Harness.temporaryDirectory("ef-resume")
        try prepare(dir)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": crashPoint])
        #expect(crashed.status != 0, "the crash point \(crashPoint) was never reached:\n\(crashed.output)")
        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/ef"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")

        let a = try AggregationLog.read(path: reference + "/ef/aggregation.jsonl")
        let b = try AggregationLog.read(path: dir + "/ef/aggregation.jsonl")
        #expect(b.rounds.map(\.round) == [1, 2, 3, 4, 5, 6])
        #expect(a.rounds.map(\.weights) == b.rounds.map(\.weights))
        #expect(a.rounds.map { $0.eval?.cleanAccuracy } == b.rounds.map { $0.eval?.cleanAccuracy })
        #expect(try finalCheckpoint(reference) == finalCheckpoint(dir), "after a crash at \(crashPoint)")

        // One run id across the resume; per client, at most the versions a resume could need
        // (the last round's, and the newest before the saved round), none of a dead generation.
        let fm = FileManager.default
        let runs = try fm.contentsOfDirectory(atPath: dir + "/ef/client-state")
        #expect(runs.count == 1 && runs[0].hasPrefix("run-"), "\(runs)")
        #expect(b.runStart?.runId == runs[0] && a.runStart?.runId != runs[0])
        for client in 0..<4 {
            let files = try fm.contentsOfDirectory(atPath: dir + "/ef/client-state/\(runs[0])/" + String(format: "client-%06d", client)).sorted()
            #expect(files.last == "r0006-g1.safetensors", "client \(client): \(files)")
            // Killed after round 4's tasks went out, the server had saved round 2; between rounds, round 4.
            let resumedAfter = crashPoint == "round-started:4" ? 2 : 4
            let deadLeft = files.filter { $0.hasSuffix("-g0.safetensors") && Int($0.dropFirst().prefix(4))! > resumedAfter }
            #expect(files.count <= 3 && deadLeft.isEmpty, "client \(client): \(files)")
        }
    }

    /// Hand-started client processes with `--state-dir` ride through a server killed while they
    /// train and restarted with `aviary-server --resume`: the same processes learn from the
    /// new WELCOME that the rounds after the resume point are replayed, and the run still ends
    /// with the uninterrupted model.
    @Test func handStartedClientsKeepTheirResidualsThroughAServerRestart() throws {
        func topology(_ dir: String) throws {
            try Harness.topology(name: "ef", output: dir, clients: 3, rounds: 6, processes: 1, epochs: 1,
                                 server: "bind = \"ipc://\(dir)/server.sock\"\nheartbeat_interval = 0.5", extra: Self.compression)
                .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        }
        let reference = Harness.temporaryDirectory("ef-hand-ref")
        try topology(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")

        let dir = Harness.temporaryDirectory("ef-hand")
        try topology(dir)
        let socket = "ipc://\(dir)/server.sock"
        let restart = try Harness.killAndResumeServer(
            topology: dir + "/t.toml", runDirectory: dir + "/ef", crashAt: "round-started:4",
            clients: (0..<3).map { ["--connect", socket, "--clients", "\($0)", "--state-dir", dir + "/state"] }, logs: dir)
        #expect(restart.killed && restart.clientsWaited)
        #expect(restart.resumedStatus == 0, "see \(dir)/server2.out")
        #expect(restart.clientStatuses.allSatisfy { $0 == 0 }, "every client finished cleanly")
        let log = try AggregationLog.read(path: dir + "/ef/aggregation.jsonl")
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5, 6])
        #expect(try finalCheckpoint(reference) == finalCheckpoint(dir))
    }

    /// Lossless and quantised encodings keep no client state.
    @Test func anF32RunWritesNoClientState() throws {
        let dir = Harness.temporaryDirectory("ef-f32")
        try Harness.topology(name: "ef", output: dir, clients: 2, rounds: 2, processes: 1, epochs: 1)
            .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        let run = try Harness.run("aviary", ["run", dir + "/t.toml"])
        #expect(run.status == 0, "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/ef/client-state"))
    }
}
