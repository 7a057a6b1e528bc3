import Foundation
import Testing
import AviaryLog

/// End to end: real executables, real ZeroMQ sockets on loopback, real processes.
@Suite(.serialized) struct FederationTests {
    @Test func threeClientsThreeRoundsLearnAboveChance() throws {
        let dir = Harness.temporaryDirectory("e2e")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "e2e", output: dir, clients: 3, rounds: 3, processes: 3)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "aviary run failed:\n\(result.output)")
        #expect(result.output.contains("round 3/3"), "no progress line for round 3:\n\(result.output)")

        let log = try AggregationLog.read(path: dir + "/e2e/aggregation.jsonl")
        #expect(log.rounds.count == 3)
        #expect(log.rounds.allSatisfy { $0.accepted == [0, 1, 2] })
        let weights = try #require(log.rounds.last?.weights)
        #expect(abs(weights.values.reduce(0, +) - 1) < 1e-9)
        let acc = try #require(log.rounds.last?.eval?.cleanAccuracy)
        #expect(acc > 0.2, "accuracy \(acc) is not clearly above chance (0.1)")
        #expect(log.runEnd?.status == "completed")
        let fairness = try #require(log.rounds.last?.fairness, "clients have local test splits, so fairness must be logged")
        #expect(fairness.clients == 3 && fairness.min <= fairness.mean)
        #expect(FileManager.default.fileExists(atPath: dir + "/e2e/checkpoints/round-0003.safetensors"))
    }

    @Test func runsAreBitForBitReproducible() throws {
        var checkpoints: [Data] = []
        for attempt in 0..<2 {
            let dir = Harness.temporaryDirectory("repro\(attempt)")
            let topo = dir + "/t.toml"
            // Different process counts change arrival order; the result must not change.
            try Harness.topology(name: "repro", output: dir, clients: 4, rounds: 2, processes: attempt == 0 ? 4 : 1)
                .write(toFile: topo, atomically: true, encoding: .utf8)
            let result = try Harness.run("aviary", ["run", topo])
            #expect(result.status == 0, "aviary run failed:\n\(result.output)")
            checkpoints.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/repro/checkpoints/round-0002.safetensors")))
        }
        #expect(checkpoints[0] == checkpoints[1])
    }

    @Test func badTopologyNamesFileAndKey() throws {
        let dir = Harness.temporaryDirectory("bad")
        let topo = dir + "/bad.toml"
        try "[run]\nname = \"x\"\n[merge]\nstrategy = \"mwa\"\npenalti = 2\n".write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status != 0)
        #expect(result.output.contains("bad.toml") && result.output.contains("merge.penalti"), "\(result.output)")
    }
}

@Suite struct LauncherFailureTests {
    /// `aviary run` with client executables that crash at start: it must name them, stop the
    /// server and fail, not wait out the registration timeout.
    @Test func crashingClientsAreNamedAndTheRunFails() throws {
        let dir = Harness.temporaryDirectory("crash")
        let fake = try Harness.fakeBin(in: dir, clientScript: "echo 'simulated client crash' >&2\nexit 3\n")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "crash", output: dir, clients: 2, rounds: 2, processes: 2).write(toFile: topo, atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: fake + "/aviary")
        p.arguments = ["run", topo]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let started = Date()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(p.terminationStatus != 0)
        #expect(text.contains("client process 0 (clients 0) exited with status 3"), "\(text)")
        #expect(text.contains("simulated client crash"), "the client's log tail should be shown:\n\(text)")
        #expect(Date().timeIntervalSince(started) < 30, "the launcher waited for the registration timeout")
    }
}

@Suite struct MixedClientsTests {
    /// Per-client overrides reach the right processes: robust and non-robust clients in one run.
    @Test func robustAndCleanClientsInOneRun() throws {
        let dir = Harness.temporaryDirectory("mixed")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "mixed", output: dir, clients: 3, rounds: 2, processes: 2, extra: """

            [adversarial]
            mode = "pgd"
            epsilon = 0.1
            step_size = 0.05
            steps = 2

            [[adversarial.clients]]
            clients = [2]
            mode = "none"
            """).write(toFile: topo, atomically: true, encoding: .utf8)
        let result = try Harness.run("aviary", ["run", topo])
        #expect(result.status == 0, "\(result.output)")
        let log = try AggregationLog.read(path: dir + "/mixed/aggregation.jsonl")
        for r in log.rounds {
            #expect(r.clientMetrics["0"]?["adv_loss"] != nil && r.clientMetrics["1"]?["adv_loss"] != nil, "round \(r.round)")
            #expect(r.clientMetrics["2"]?["adv_loss"] == nil, "client 2 trains clean")
            #expect(r.accepted == [0, 1, 2])
        }
    }
}
