import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// CURVE end to end with the real executables: keygen, key-file permissions, a refused key,
/// and a CURVE federation that ends bit for bit where the plaintext one does.
@Suite(.serialized, .enabled(if: CurveKeyPair.isAvailable, "this libzmq has no CURVE (built without libsodium)"))
struct CurveTests {
    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    static func publicKey(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("public = ") })
        return String(line.dropFirst("public = \"".count).dropLast())
    }

    @Test func keygenWritesPrivateSecretsAndAShardBindingAllowList() throws {
        let dir = Harness.temporaryDirectory("keygen") + "/keys"
        let r = try Harness.run("aviary", ["keygen", "--dir", dir, "--processes", "3", "--clients", "10"])
        #expect(r.status == 0, "\(r.output)")
        #expect(Self.mode(dir) == 0o700)
        for name in ["server", "client-0", "client-1", "client-2"] {
            #expect(Self.mode("\(dir)/\(name).secret") == 0o600, "\(name).secret")
            #expect(Self.mode("\(dir)/\(name).public") == 0o644, "\(name).public")
        }
        let list = try AllowList.parse(String(contentsOfFile: dir + "/allowed.txt", encoding: .utf8), file: "allowed.txt")
        #expect(list.keys.count == 3)
        for p in 0..<3 {
            let key = try Self.publicKey("\(dir)/client-\(p).public")
            #expect(list.binding(for: key) == .of(Array(stride(from: p, to: 10, by: 3))), "client-\(p)")
        }
        #expect(!list.keys.contains(try Self.publicKey(dir + "/server.public")))

        let before = try String(contentsOfFile: dir + "/client-0.secret", encoding: .utf8)
        let again = try Harness.run("aviary", ["keygen", "--dir", dir, "--processes", "3", "--clients", "10"])
        #expect(again.status != 0 && again.output.contains("--force"), "\(again.output)")
        #expect(try String(contentsOfFile: dir + "/client-0.secret", encoding: .utf8) == before)
        let forced = try Harness.run("aviary", ["keygen", "--dir", dir, "--force", "alice", "server"])
        #expect(forced.status == 0, "\(forced.output)")
        #expect(Self.mode(dir + "/alice.secret") == 0o600)
    }

    @Test func aSecretKeyOthersCanReadIsRefused() throws {
        let dir = Harness.temporaryDirectory("openkey")
        #expect(try Harness.run("aviary", ["keygen", "--dir", dir, "server", "c"]).status == 0)
        chmod(dir + "/c.secret", 0o644)
        let client = try Harness.run("aviary-client", ["--connect", "tcp://127.0.0.1:1", "--curve-secret", dir + "/c.secret",
                                                       "--server-public", dir + "/server.public"], timeout: 60)
        #expect(client.status != 0)
        #expect(client.output.contains("\(dir)/c.secret") && client.output.contains("chmod 600"), "\(client.output)")
        let wrong = try Harness.run("aviary-client", ["--connect", "tcp://127.0.0.1:1", "--curve-secret", dir + "/server.secret",
                                                      "--server-public", dir + "/server.secret"], timeout: 60)
        #expect(wrong.status != 0 && wrong.output.contains("holds a secret key"), "\(wrong.output)")
    }

    @Test func anUnknownKeyCannotRegisterAndIsCountedInTheLog() throws {
        let dir = Harness.temporaryDirectory("stranger")
        let keys = dir + "/keys"
        #expect(try Harness.run("aviary", ["keygen", "--dir", keys, "--processes", "1", "--clients", "2"]).status == 0)
        #expect(try Harness.run("aviary", ["keygen", "--dir", keys, "stranger"]).status == 0)
        let topo = dir + "/t.toml"
        try Harness.topology(name: "stranger", output: dir, clients: 2, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let server = try Harness.start("aviary-server", ["--topology", topo, "--curve-secret", keys + "/server.secret",
                                                         "--allow", keys + "/allowed.txt"], log: dir + "/server.log")
        defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }
        let endpoint = try #require(Harness.waitForFile(dir + "/stranger/endpoint", timeout: 60)?
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let curve = { (name: String) in ["--curve-secret", "\(keys)/\(name).secret", "--server-public", keys + "/server.public"] }
        // The stranger's key is not on the list: its handshake is refused, it exits saying so.
        let refused = try Harness.run("aviary-client", ["--connect", endpoint, "--clients", "0,1"] + curve("stranger"), timeout: 120)
        #expect(refused.status != 0)
        #expect(refused.output.contains("not on the server's allow-list"), "\(refused.output)")
        // The listed key registers both clients and the run completes.
        let good = try Harness.run("aviary-client", ["--connect", endpoint, "--shard", "0/1", "--of", "2"] + curve("client-0"), timeout: 120)
        #expect(good.status == 0, "\(good.output)")
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        let log = try AggregationLog.read(path: dir + "/stranger/aggregation.jsonl")
        #expect(log.runStart?.curve == true)
        #expect(log.rounds.first?.accepted == [0, 1])
        let notes = log.notes.filter { $0.event == "protocol_issues" }.map(\.message)
        #expect(notes.count == 1, "\(notes)")
        #expect(notes.first?.contains("CURVE handshake refused") == true, "\(notes)")
    }

    @Test func aCurveFederationEndsBitForBitWhereThePlaintextOneDoes() throws {
        var checkpoints: [Data] = []
        for curve in [false, true] {
            let dir = Harness.temporaryDirectory(curve ? "curve" : "plain")
            let topo = dir + "/t.toml"
            try Harness.topology(name: "fed", output: dir, clients: 6, rounds: 2, processes: 3)
                .write(toFile: topo, atomically: true, encoding: .utf8)
            let result = try Harness.run("aviary", ["run", topo] + (curve ? ["--set", "security.curve=true"] : []))
            #expect(result.status == 0, "aviary run failed:\n\(result.output)")
            #expect(result.output.contains("plaintext") == false, "a loopback run must not warn:\n\(result.output)")
            let log = try AggregationLog.read(path: dir + "/fed/aggregation.jsonl")
            #expect(log.runStart?.curve == curve)
            if curve {
                #expect(Self.mode(dir + "/fed/keys") == 0o700)
                #expect(Self.mode(dir + "/fed/keys/client-2.secret") == 0o600)
            }
            checkpoints.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/fed/checkpoints/round-0002.safetensors")))
        }
        #expect(checkpoints[0] == checkpoints[1])
    }

    @Test func anExposedPlaintextServerWarns() throws {
        let dir = Harness.temporaryDirectory("exposed")
        let topo = dir + "/t.toml"
        try Harness.topology(name: "exposed", output: dir, clients: 1, rounds: 1, processes: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        // Nobody joins: the server gives up after a second; only its start-up warning matters.
        let r = try Harness.run("aviary-server", ["--topology", topo, "--bind", "tcp://*:0",
                                                  "--set", "server.registration_timeout=1"], timeout: 120)
        #expect(r.output.contains("warning: plaintext: anyone who can reach tcp://*:0 can join"), "\(r.output)")
    }
}
