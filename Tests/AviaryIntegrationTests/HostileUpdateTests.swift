import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// A live server against a registered client that sends finite but enormous updates (3e38 per
/// coordinate, `dataset_size` 1e12), and a server whose disk refuses a write mid-run. The server
/// must keep its model finite, weigh clients by the sizes it derived, and end every run with a
/// `run_end` and SHUTDOWN.
@Suite(.serialized) struct HostileUpdateTests {
    /// Serves client 1 from this test process: registers, then answers every TRAIN with `delta`.
    /// Returns the number of TRAINs answered once the server has exited (or `deadline` passed).
    static func hostileClient(endpoint: String, server: Process, deadline: Date,
                              delta: @escaping (_ count: Int) -> [Float]) throws -> Int {
        let rogue = try ClientEndpoint(connect: endpoint)
        defer { rogue.close() }
        try rogue.send(.hello(HelloMessage(processName: "hostile", claims: [ClientClaim(index: 1)])))
        var token: SessionToken = 0
        var count = 0
        var tasks = 0
        while server.isRunning && Date() < deadline {
            guard case let .success(message)? = try rogue.receive(timeout: .milliseconds(100)) else { continue }
            switch message {
            case let .welcome(w): token = w.accepted.first { $0.index == 1 }?.token ?? 0
            case let .model(m): count = m.parameters.count
            case let .train(task):
                tasks += 1
                try rogue.send(.update(UpdateMessage(round: task.round, clientIndex: 1, token: token, samples: 10,
                                                     metrics: ["train_loss": 1, "dataset_size": 1e12], delta: delta(count))))
            case .shutdown: return tasks
            default: continue
            }
        }
        return tasks
    }

    func run(_ name: String, rounds: Int, merge: String, delta: @escaping (Int) -> [Float]) throws -> (status: Int32, log: AggregationLog, dir: String) {
        let dir = Harness.temporaryDirectory(name)
        let topo = dir + "/t.toml"
        try Harness.topology(name: name, output: dir, clients: 2, rounds: rounds, processes: 1, roundTimeout: 30,
                             server: "clients_per_round = 2", extra: merge)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/" + name, log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "server never listened; see \(dir)/server.out")
        let honest = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0"], log: dir + "/c0.out")
        defer { if honest.isRunning { honest.terminate() } }
        let tasks = try Self.hostileClient(endpoint: endpoint, server: server, deadline: Date().addingTimeInterval(120), delta: delta)
        server.waitUntilExit()
        #expect(tasks == rounds, "the hostile client was asked to train \(tasks) times")
        return (server.terminationStatus, try AggregationLog.read(path: dir + "/\(name)/aggregation.jsonl"), dir)
    }

    @Test func theDefaultNormBoundRejectsEnormousUpdatesAndTheRunCompletes() throws {
        let r = try run("hostile-bound", rounds: 3, merge: "") { [Float](repeating: 3e38, count: $0) }
        #expect(r.status == 0, "see \(r.dir)/server.out")
        #expect(r.log.rounds.count == 3)
        for round in r.log.rounds {
            #expect(round.accepted == [0], "round \(round.round): \(round.rejected)")
            #expect(round.rejected.first?.category == "norm beyond bound", "\(round.rejected)")
            #expect(round.eval?.cleanLoss.isFinite == true)
        }
        #expect(r.log.runEnd?.status == "completed")
    }

    @Test func withoutANormBoundFedAvgWeighsByDerivedSizesAndNeverAppliesANonFiniteStep() throws {
        let r = try run("hostile-sizes", rounds: 4, merge: "[merge]\nmax_update_norm_ratio = 0") { [Float](repeating: 3e38, count: $0) }
        let counts = try #require(r.log.runStart?.partitionStats?.counts)
        // The claimed 1e12 samples count for nothing: client 1 weighs the size the partition
        // gave it (its train split, at most its partition count), as the log's metrics show.
        let first = try #require(r.log.rounds.first)
        let size0 = try #require(first.clientMetrics["0"]?["dataset_size"])
        let size1 = try #require(first.clientMetrics["1"]?["dataset_size"])
        #expect(size1 > 0 && size1 <= Double(counts[1]), "client 1 weighed as \(size1) samples; partition counts \(counts)")
        #expect(abs((first.weights["1"] ?? 0) - size1 / (size0 + size1)) < 1e-9, "weights \(first.weights)")
        // 3e38 at weight ~0.5 stays finite for a round or two; the step that would overflow is
        // not applied, and the round says so.
        let kept = r.log.rounds.filter(\.modelKept)
        #expect(!kept.isEmpty, "\(r.log.rounds.map(\.modelKept))")
        #expect(kept.allSatisfy { $0.keptReason?.contains("not finite") == true || $0.keptReason?.contains("step not applied") == true },
                "\(kept.map(\.keptReason))")
        #expect(r.log.rounds.count == 4, "every round is logged; see \(r.dir)/server.out")
        #expect(r.log.runEnd != nil, "the run ends with run_end; see \(r.dir)/server.out")
    }

    @Test func aServerErrorStillWritesRunEndAndShutsTheClientsDown() throws {
        let dir = Harness.temporaryDirectory("server-error")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "e", output: dir, clients: 2, rounds: 4, processes: 1, roundTimeout: 30)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/e", log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "server never listened; see \(dir)/server.out")
        // Round 2's checkpoint cannot be written: a directory sits where the file goes.
        try FileManager.default.createDirectory(atPath: dir + "/e/checkpoints/round-0002.safetensors", withIntermediateDirectories: true)
        let client = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0-1"], log: dir + "/c.out")
        defer { if client.isRunning { client.terminate() } }
        server.waitUntilExit()
        let exited = Date()
        // Without SHUTDOWN the client would wait out its 120 s server timeout.
        while client.isRunning && Date().timeIntervalSince(exited) < 30 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!client.isRunning, "the client did not hear SHUTDOWN; see \(dir)/c.out")
        #expect(server.terminationStatus != 0, "the server's exit code must tell the truth")
        let log = try AggregationLog.read(path: dir + "/e/aggregation.jsonl")
        let end = try #require(log.runEnd, "no run_end; see \(dir)/server.out")
        #expect(end.status.hasPrefix("failed: server error"), "\(end.status)")
        #expect(end.status.contains("round-0002.safetensors"), "\(end.status)")
        #expect(end.roundsCompleted == 1)
    }
}
