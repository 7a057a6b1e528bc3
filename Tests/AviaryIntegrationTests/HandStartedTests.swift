import Foundation
import Testing
import AviaryLog

/// The hand-started path fails fast, with real processes: `aviary-server` picks a fresh
/// directory as `aviary run` does, a server that cannot start leaves no run directory behind,
/// `aviary validate` checks the dataset files, and a plaintext client at a CURVE server is
/// told CURVE is why (and the server says so too).
@Suite(.serialized) struct HandStartedTests {
    @Test func aServerOnAnExistingRunNameTakesAFreshDirectory() throws {
        let dir = Harness.temporaryDirectory("fresh-server")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "fs", output: dir, clients: 2, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let first = try Harness.run("aviary", ["run", topo])
        #expect(first.status == 0, "\(first.output)")
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/fs/aggregation.jsonl"))

        let (server, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/fs-2", log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() } }
        let endpoint = try #require(listening, "the server did not listen in \(dir)/fs-2; see \(dir)/server.out")
        let client = try Harness.run("aviary-client", ["--connect", endpoint, "--clients", "0,1"], timeout: 120)
        #expect(client.status == 0, "\(client.output)")
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        let output = try String(contentsOfFile: dir + "/server.out", encoding: .utf8)
        #expect(output.contains("\(dir)/fs exists; this run goes to \(dir)/fs-2"), "\(output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/fs/aggregation.jsonl")) == before, "the first run is untouched")
        #expect(try AggregationLog.read(path: dir + "/fs-2/aggregation.jsonl").runEnd?.status == "completed")
    }

    @Test func aServerThatCannotBindLeavesNoRunDirectory() throws {
        let dir = Harness.temporaryDirectory("bind-fails")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "holder", output: dir, clients: 1, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (holder, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/holder", log: dir + "/holder.out")
        defer { if holder.isRunning { holder.terminate() }; holder.waitUntilExit() }
        let taken = try #require(listening, "see \(dir)/holder.out")
        let second = try Harness.run("aviary-server", ["--topology", topo, "--name", "second", "--bind", taken], timeout: 60)
        #expect(second.status != 0)
        #expect(second.output.contains("Address already in use"), "\(second.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/second"), "a server that never listened left \(dir)/second")
    }

    @Test func aMissingDatasetLeavesNoRunDirectoryAndValidateSaysSo() throws {
        let dir = Harness.temporaryDirectory("no-data")
        let topo = dir + "/t.toml"
        let missing = dir + "/absent/train.csv"
        try Harness.topology(name: "nd", output: dir, clients: 2, rounds: 1, processes: 1)
            .replacingOccurrences(of: "dataset = \"synthetic\"\nalpha = 1.0\nbeta = 1.0", with: "dataset = \"csv\"\ntrain = \"\(missing)\"")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let validate = try Harness.run("aviary", ["validate", topo])
        #expect(validate.status != 0 && validate.output.contains("bad") && validate.output.contains(missing), "\(validate.output)")
        let server = try Harness.run("aviary-server", ["--topology", topo], timeout: 60)
        #expect(server.status != 0 && server.output.contains(missing), "\(server.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/nd"), "aviary-server left \(dir)/nd")
        let run = try Harness.run("aviary", ["run", topo], timeout: 120)
        #expect(run.status != 0 && run.output.contains(missing), "\(run.output)")
        #expect(run.output.contains("its run directory was removed"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/nd"), "aviary run left \(dir)/nd")

        let synthetic = dir + "/s.toml"
        try Harness.topology(name: "s", output: dir, clients: 2, rounds: 1, processes: 1).write(toFile: synthetic, atomically: true, encoding: .utf8)
        let ok = try Harness.run("aviary", ["validate", synthetic])
        #expect(ok.status == 0 && ok.output.contains("data generated"), "\(ok.output)")
    }

    @Test func aPlaintextClientAtACurveServerIsToldCurveAndTheServerLogsIt() throws {
        let dir = Harness.temporaryDirectory("mismatch")
        let keys = dir + "/keys"
        #expect(try Harness.run("aviary", ["keygen", "--dir", keys, "--processes", "1", "--clients", "2"]).status == 0)
        let topo = dir + "/t.toml"
        try Harness.topology(name: "mm", output: dir, clients: 2, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let server = try Harness.start("aviary-server", ["--topology", topo, "--curve-secret", keys + "/server.secret",
                                                         "--allow", keys + "/allowed.txt"], log: dir + "/server.out")
        defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }
        let endpoint = try #require(Harness.waitForFile(dir + "/mm/endpoint", timeout: 60)?.trimmingCharacters(in: .whitespacesAndNewlines))
        let started = Date()
        let plaintext = try Harness.run("aviary-client", ["--connect", endpoint, "--clients", "0,1"], timeout: 120)
        #expect(plaintext.status != 0)
        #expect(plaintext.output.contains("requires CURVE encryption and this client is plaintext"), "\(plaintext.output)")
        #expect(Date().timeIntervalSince(started) < 30, "the client should fail at the handshake, not after its server timeout")
        // The server says so too. It sees either the client's NULL greeting (a certain mismatch)
        // or, more often, a connection closed mid-handshake before that greeting arrived (the
        // client read the server's CURVE greeting first and left): both name CURVE.
        let deadline = Date().addingTimeInterval(30)
        var serverOutput = ""
        while Date() < deadline {
            serverOutput = (try? String(contentsOfFile: dir + "/server.out", encoding: .utf8)) ?? ""
            if serverOutput.contains("this server requires CURVE") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(serverOutput.contains("this server requires CURVE"), "\(serverOutput)")
        #expect(serverOutput.contains("give aviary-client --curve-secret and --server-public"), "\(serverOutput)")
        let notes = try AggregationLog.read(path: dir + "/mm/aggregation.jsonl").notes
        #expect(notes.contains { ["security_mismatch", "handshake_closed"].contains($0.event) && $0.message.contains("requires CURVE") },
                "\(notes.map(\.event))")
    }
}
