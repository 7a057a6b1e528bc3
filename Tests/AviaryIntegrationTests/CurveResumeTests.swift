import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// CURVE across a server killed with SIGKILL: `aviary run --resume` writes a new launch's keys
/// (private, none of the old launch's left) and ends with the uninterrupted CURVE run's model bit
/// for bit; hand-started clients keep their keys through `aviary-server --resume` with the same
/// key files; and a CURVE run is never continued in plaintext.
@Suite(.serialized, .enabled(if: CurveKeyPair.isAvailable, "this libzmq has no CURVE (built without libsodium)"))
struct CurveResumeTests {
    static let curve = "\n[security]\ncurve = true\n"

    func checkpoint(_ run: String, round: Int) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/" + String(format: "round-%04d.safetensors", round)))
    }

    func keyFiles(_ keys: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: keys).sorted()
    }

    @Test func aKilledCurveRunResumesWithNewPrivateKeysToTheUninterruptedModel() throws {
        func prepare(_ dir: String) throws {
            try Harness.topology(name: "cr", output: dir, clients: 4, rounds: 5, processes: 2,
                                 server: ReliabilityTests.resumeTopologyExtra, extra: Self.curve)
                .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        }
        let reference = Harness.temporaryDirectory("curve-resume-ref")
        try prepare(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")

        let dir = Harness.temporaryDirectory("curve-resume")
        try prepare(dir)
        let crashed = try Harness.run("aviary", ["run", dir + "/t.toml"], timeout: 120, environment: ["AVIARY_CRASH_AT": "round-started:3"])
        #expect(crashed.status != 0 && crashed.output.contains("signal 9"), "the crash point was never reached:\n\(crashed.output)")
        let keys = dir + "/cr/keys"
        let oldServer = try CurveTests.publicKey(keys + "/server.public")
        let oldClients = try AllowList.parse(String(contentsOfFile: keys + "/allowed.txt", encoding: .utf8), file: "allowed.txt").keys
        #expect(oldClients.count == 2)
        // Whatever the old launch's files became, the new launch's must be private and alone.
        chmod(keys, 0o755)
        chmod(keys + "/client-0.secret", 0o644)
        try FileManager.default.copyItem(atPath: keys + "/client-1.secret", toPath: keys + "/client-7.secret")

        let resumed = try Harness.run("aviary", ["run", "--resume", dir + "/cr"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(try checkpoint(dir + "/cr", round: 5) == checkpoint(reference + "/cr", round: 5))
        let log = try AggregationLog.read(path: dir + "/cr/aggregation.jsonl")
        #expect(log.runStart?.curve == true)
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5], "each round exactly once")
        #expect(log.resumptions.count == 1 && log.runEnd?.status == "completed")

        #expect(CurveTests.mode(keys) == 0o700)
        #expect(try keyFiles(keys) == ["allowed.txt", "client-0.public", "client-0.secret", "client-1.public",
                                       "client-1.secret", "server.public", "server.secret"])
        for name in ["server", "client-0", "client-1"] {
            #expect(CurveTests.mode("\(keys)/\(name).secret") == 0o600, "\(name).secret")
        }
        #expect(try CurveTests.publicKey(keys + "/server.public") != oldServer)
        let list = try AllowList.parse(String(contentsOfFile: keys + "/allowed.txt", encoding: .utf8), file: "allowed.txt")
        #expect(list.keys.isDisjoint(with: oldClients), "no key of the killed launch is admitted")
        #expect(list.keys.count == 2)
        for p in 0..<2 {
            let key = try CurveTests.publicKey("\(keys)/client-\(p).public")
            #expect(list.binding(for: key) == .of([p, p + 2]), "client-\(p)")
        }
    }

    /// Hand-started: the server is restarted with the same `--curve-secret` and `--allow`, and
    /// the client processes that rode through the restart register again with the keys they hold.
    @Test func handStartedCurveClientsKeepTheirKeysThroughAServerRestart() throws {
        func prepare(_ dir: String) throws {
            try Harness.topology(name: "rs", output: dir, clients: 3, rounds: 5, processes: 1,
                                 server: "bind = \"ipc://\(dir)/server.sock\"\nheartbeat_interval = 0.5")
                .write(toFile: dir + "/t.toml", atomically: true, encoding: .utf8)
        }
        // The plaintext run of the same topology: CURVE and a restart change nothing in the model.
        let reference = Harness.temporaryDirectory("curve-hand-ref")
        try prepare(reference)
        let full = try Harness.run("aviary", ["run", reference + "/t.toml"])
        #expect(full.status == 0, "\(full.output)")

        let dir = Harness.temporaryDirectory("curve-hand")
        try prepare(dir)
        let keys = dir + "/keys"
        let keygen = try Harness.run("aviary", ["keygen", "--dir", keys, "--processes", "3", "--clients", "3"])
        #expect(keygen.status == 0, "\(keygen.output)")
        let serverKeys = ["--curve-secret", keys + "/server.secret", "--allow", keys + "/allowed.txt"]
        let first = try Harness.start("aviary-server", ["--topology", dir + "/t.toml"] + serverKeys, log: dir + "/server1.out",
                                      environment: ["AVIARY_CRASH_AT": "round-started:3"])
        let clients = try (0..<3).map {
            try Harness.start("aviary-client", ["--connect", "ipc://\(dir)/server.sock", "--clients", "\($0)",
                                                "--curve-secret", "\(keys)/client-\($0).secret", "--server-public", keys + "/server.public"],
                              log: dir + "/c\($0).out")
        }
        defer { for c in clients where c.isRunning { c.terminate() } }
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal && first.terminationStatus == SIGKILL)

        // Without its keys the run is refused before anything in it is touched.
        let logBefore = try Data(contentsOf: URL(fileURLWithPath: dir + "/rs/aggregation.jsonl"))
        let plaintext = try Harness.run("aviary-server", ["--resume", dir + "/rs"], timeout: 60)
        #expect(plaintext.status != 0)
        #expect(plaintext.output.contains("started with CURVE") && plaintext.output.contains("--curve-secret"), "\(plaintext.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/rs/aggregation.jsonl")) == logBefore)

        let second = try Harness.start("aviary-server", ["--resume", dir + "/rs"] + serverKeys, log: dir + "/server2.out")
        defer { if second.isRunning { second.terminate() } }
        let deadline = Date().addingTimeInterval(90)
        while second.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!second.isRunning && second.terminationStatus == 0, "see \(dir)/server2.out")
        for c in clients { c.waitUntilExit() }
        #expect(clients.allSatisfy { $0.terminationStatus == 0 }, "every client finished cleanly, see \(dir)/c*.out")
        let log = try AggregationLog.read(path: dir + "/rs/aggregation.jsonl")
        #expect(log.runStart?.curve == true)
        #expect(log.rounds.map(\.round) == [1, 2, 3, 4, 5])
        #expect(log.resumptions.count == 1 && log.runEnd?.status == "completed")
        #expect(try checkpoint(dir + "/rs", round: 5) == checkpoint(reference + "/rs", round: 5))
    }
}
