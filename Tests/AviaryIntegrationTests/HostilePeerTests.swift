import Foundation
import Testing
import AviaryLog
import AviaryProtocol
import AviaryTransport
import AviaryTestSupport

/// A live server faced with a plaintext peer that floods it and never reads
/// (Resources/hostile_peer.py, a real process on loopback). The server must keep serving
/// everyone else, answer signals at once, keep its answers small and give memory back when the
/// peer leaves. Before the send path stopped waiting on peers, each of these hung for minutes.
@Suite(.serialized) struct HostilePeerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Resources/hostile_peer.py"
    static let python = "/usr/bin/python3"
    /// Debian's python3-zmq (`make setup-test` installs it).
    static let hasPythonZmq = FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/zmq/__init__.py")

    /// Starts the hostile peer; its output goes to `log`.
    static func hostile(_ flood: String, endpoint: String, count: Int, claims: Int = 0, hold: Double, log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, flood, "--endpoint", endpoint, "--version", "\(protocolVersion)",
                       "--count", "\(count)", "--claims", "\(claims)", "--hold", "\(hold)"]
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    /// A listening server for 2 clients (its run directory is `dir/name`), with its endpoint.
    static func listeningServer(_ name: String, rounds: Int, roundTimeout: Double = 60, server: String = "") throws -> (dir: String, server: Process, endpoint: String) {
        let dir = Harness.temporaryDirectory(name)
        let topo = dir + "/t.toml"
        try Harness.topology(name: name, output: dir, clients: 2, rounds: rounds, processes: 1, roundTimeout: roundTimeout, epochs: 1, server: server)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let (process, listening) = try Harness.startServer(topology: topo, runDirectory: dir + "/" + name, log: dir + "/server.out")
        guard let endpoint = listening else {
            process.terminate()
            throw HarnessError.timedOut(tool: "aviary-server (listening)", seconds: 30)
        }
        return (dir, process, endpoint)
    }

    /// Waits until `log` has a line starting with `prefix` (the peer's progress), within `timeout` s.
    static func waitForLine(_ prefix: String, in log: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: log, encoding: .utf8), s.split(separator: "\n").contains(where: { $0.hasPrefix(prefix) }) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// The resident set of process `pid` in bytes (VmRSS), or nil once it is gone.
    static func rss(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb * 1024
    }

    /// How long an honest HELLO takes to be answered with a WELCOME, in seconds (nil: never within `timeout`).
    static func welcomeLatency(_ endpoint: String, claim: Int, timeout: Double) throws -> (Double, WelcomeMessage)? {
        let c = try ClientEndpoint(connect: endpoint)
        defer { c.close() }
        let start = Date()
        try c.send(.hello(HelloMessage(processName: "honest-probe", claims: [ClientClaim(index: claim)])))
        while Date().timeIntervalSince(start) < timeout {
            if case let .success(.welcome(w))? = try c.receive(timeout: .milliseconds(100)) { return (Date().timeIntervalSince(start), w) }
        }
        return nil
    }

    /// 60,000 HEARTBEATs from a connection that never reads the RESETs: the run still goes
    /// through with honest clients, and the flooder is counted in the log, not waited for.
    @Test(.enabled(if: Prerequisite.enabled(hasPythonZmq), "needs /usr/bin/python3 with python3-zmq (make setup-test)"))
    func aPeerThatNeverReadsDoesNotStopTheRun() throws {
        let (dir, server, endpoint) = try Self.listeningServer("nr", rounds: 2, roundTimeout: 30, server: "heartbeat_interval = 0.5")
        defer { if server.isRunning { server.terminate() } }
        let flood = try Self.hostile("heartbeats", endpoint: endpoint, count: 60_000, hold: 60, log: dir + "/hostile.out")
        defer { if flood.isRunning { flood.terminate() } }
        #expect(Self.waitForLine("sent", in: dir + "/hostile.out", timeout: 30), "the flood was never sent; see \(dir)/hostile.out")

        // While the flooder's queue is full, an honest process registers at once and the run ends.
        let honest = try Harness.start("aviary-client", ["--connect", endpoint, "--clients", "0,1", "--server-timeout", "30"],
                                       log: dir + "/honest.out")
        defer { if honest.isRunning { honest.terminate() } }
        let deadline = Date().addingTimeInterval(60)
        while server.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!server.isRunning, "the server did not finish two short rounds within 60 s beside the flooder; see \(dir)/server.out")
        if server.isRunning { return }
        #expect(server.terminationStatus == 0, "see \(dir)/server.out")
        let log = try AggregationLog.read(path: dir + "/nr/aggregation.jsonl")
        #expect(log.rounds.count == 2)
        let issues = log.notes.filter { $0.event == "protocol_issues" }.map(\.message).joined(separator: " ")
        #expect(issues.contains("send queue full"), "the flooder is counted: \(issues)")
    }

    /// SIGTERM during the flood ends the server within seconds (it used to be ignored for
    /// minutes while every RESET waited 10 s on the full queue), with `run_end` written.
    @Test(.enabled(if: Prerequisite.enabled(hasPythonZmq), "needs /usr/bin/python3 with python3-zmq (make setup-test)"))
    func aSignalIsServedDuringAFlood() throws {
        let (dir, server, endpoint) = try Self.listeningServer("fs", rounds: 2)
        defer { if server.isRunning { server.terminate() } }
        let flood = try Self.hostile("heartbeats", endpoint: endpoint, count: 60_000, hold: 60, log: dir + "/hostile.out")
        defer { if flood.isRunning { flood.terminate() } }
        #expect(Self.waitForLine("sent", in: dir + "/hostile.out", timeout: 30))
        // An honest HELLO is answered while the flood is served.
        let probe = try Self.welcomeLatency(endpoint, claim: 0, timeout: 10)
        #expect(probe != nil, "no WELCOME within 10 s during the flood")
        #expect((probe?.0 ?? 99) < 2, "WELCOME took \(probe?.0 ?? 99) s")

        let signalled = Date()
        server.terminate()  // SIGTERM
        while server.isRunning && Date().timeIntervalSince(signalled) < 15 { Thread.sleep(forTimeInterval: 0.05) }
        let took = Date().timeIntervalSince(signalled)
        #expect(!server.isRunning, "SIGTERM not served within 15 s")
        #expect(took < 8, "the server took \(took) s to stop after SIGTERM")
        let log = try AggregationLog.read(path: dir + "/fs/aggregation.jsonl")
        #expect(log.runEnd != nil, "run_end is written")
    }

    /// 100 HELLOs with 61,000 out-of-range claims each, from a peer that never reads: each
    /// WELCOME summarises the refusals in a few hundred bytes (it was 3.3 MB with one entry per
    /// claim, and the queued answers took RSS from 37 MB to 937 MB), and memory goes back
    /// down once the peer has gone.
    @Test(.enabled(if: Prerequisite.enabled(hasPythonZmq), "needs /usr/bin/python3 with python3-zmq (make setup-test)"))
    func refusalsAreSummarisedAndMemoryIsReleased() throws {
        let (dir, server, endpoint) = try Self.listeningServer("hf", rounds: 1)
        defer { if server.isRunning { server.terminate() } }
        let pid = server.processIdentifier
        Thread.sleep(forTimeInterval: 0.5)
        let baseline = try #require(Self.rss(pid))

        // The same refusal as one HELLO gets it: one entry, 61,000 claims, the lowest ranges.
        let probe = try ClientEndpoint(connect: endpoint)
        defer { probe.close() }
        let claims = (0..<61_000).map { ClientClaim(index: 1_000_000 + 2 * $0) }
        try probe.send(.hello(HelloMessage(processName: "probe", claims: claims)))
        var welcome: WelcomeMessage?
        let answered = Date().addingTimeInterval(20)
        while welcome == nil && Date() < answered {
            if case let .success(.welcome(w))? = try probe.receive(timeout: .milliseconds(100)) { welcome = w }
        }
        let w = try #require(welcome, "no WELCOME within 20 s")
        #expect(w.refused.count == 1)
        #expect(w.refused.first?.claims == 61_000)
        #expect(w.refused.first?.indices.count == WelcomeMessage.Refused.maxRanges)
        #expect(w.refused.first?.indices.first == 1_000_000...1_000_000)
        let size = WireCodec.encodedSize(.welcome(w)) - w.runSpec.count
        #expect(size < 1_024, "a WELCOME without its run spec is \(size) bytes")

        let flood = try Self.hostile("hellos", endpoint: endpoint, count: 100, claims: 61_000, hold: 3, log: dir + "/hostile.out")
        defer { if flood.isRunning { flood.terminate() } }
        var peak = baseline
        let gone = Date().addingTimeInterval(120)
        while flood.isRunning && Date() < gone {
            peak = max(peak, Self.rss(pid) ?? 0)
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(!flood.isRunning, "the flooder did not finish; see \(dir)/hostile.out")
        #expect(Self.waitForLine("closed", in: dir + "/hostile.out", timeout: 1))
        // Served and answered while it flooded: the honest probe still gets its answer at once.
        let honest = try Self.welcomeLatency(endpoint, claim: 0, timeout: 10)
        #expect(honest?.1.accepted.map(\.index) == [0], "the server still registers honest clients")
        // After the peer left, what it cost is given back (bounded while it lasted, too).
        Thread.sleep(forTimeInterval: 1)
        let after = try #require(Self.rss(pid))
        let mb = { (b: Int) in b / (1 << 20) }
        #expect(peak - baseline < 300 << 20, "RSS rose from \(mb(baseline)) MB to \(mb(peak)) MB during the flood")
        #expect(after - baseline < 100 << 20, "RSS is \(mb(after)) MB after the peer left (baseline \(mb(baseline)) MB, peak \(mb(peak)) MB)")
        print("hello flood: server RSS \(mb(baseline)) MB before, \(mb(peak)) MB peak, \(mb(after)) MB after the peer left")
        server.terminate()
        server.waitUntilExit()
    }

    /// The peer itself ends on SIGTERM while it holds its connection (the tests' `defer`s stop
    /// it so), although the test runner hands its children a mask that blocks the signal.
    @Test(.enabled(if: Prerequisite.enabled(hasPythonZmq), "needs /usr/bin/python3 with python3-zmq (make setup-test)"))
    func thePeerEndsOnSigterm() throws {
        let dir = Harness.temporaryDirectory("peer-sigterm")
        // Nothing listens there: a DEALER connects lazily, so the peer sends into its queue and holds.
        let peer = try Self.hostile("heartbeats", endpoint: "tcp://127.0.0.1:9", count: 1, hold: 600, log: dir + "/hostile.out")
        defer { if peer.isRunning { kill(peer.processIdentifier, SIGKILL); peer.waitUntilExit() } }
        #expect(Self.waitForLine("sent 1 messages", in: dir + "/hostile.out", timeout: 60), "see \(dir)/hostile.out")
        let stopped = Date()
        peer.terminate()
        while peer.isRunning && Date().timeIntervalSince(stopped) < 10 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!peer.isRunning, "the peer ignored SIGTERM for 10 s")
        if !peer.isRunning { #expect(peer.terminationReason == .uncaughtSignal && peer.terminationStatus == SIGTERM) }
    }
}
