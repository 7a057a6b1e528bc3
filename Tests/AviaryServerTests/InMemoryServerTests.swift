import Foundation
import Logging
import Testing
import AviaryLog
import AviaryProtocol
import AviaryServer
import AviaryTopology
import AviaryTransport

/// A whole server (data, merge, evaluation, checkpoints, log, run state) driven through the
/// in-memory transport with scripted client processes and a manual clock: liveness, hijacks and
/// resume in milliseconds, without processes or sockets.
@Suite struct InMemoryServerTests {
    static func topology(dir: String, name: String = "mem", clients: Int = 4, rounds: Int = 4, optimizer: String = "") throws -> Topology {
        try Topology.parse("""
        [run]
        name = "\(name)"
        rounds = \(rounds)
        output = "\(dir)"
        [seeds]
        partition = 1
        sampling = 2
        training = 3
        [data]
        dataset = "synthetic"
        alpha = 1.0
        beta = 1.0
        clients = \(clients)
        [model]
        kind = "mlp"
        hidden = [8]
        [train]
        local_epochs = 1
        batch_size = 10
        learning_rate = 0.05
        [server]
        round_timeout = 300
        registration_timeout = 60
        heartbeat_interval = 1
        clients_per_round = \(clients)
        \(optimizer)
        """)
    }

    static func temporaryDirectory() -> String {
        let d = NSTemporaryDirectory() + "aviary-mem-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Scripted client processes: each answers TRAIN with a deterministic update per client
    /// (a function of client, round and the model), and heartbeats when the server does.
    final class ScriptedProcesses {
        var tokens: [Int: SessionToken] = [:]
        var models: [String: ModelMessage] = [:]
        /// Processes that stopped answering anything (a hung or killed process).
        var silent: Set<String> = []
        /// Report a non-finite loss, which the server rejects at the edge.
        var poisonMetrics = false

        func respond(_ peer: PeerID, _ m: Message) -> [Message] {
            let p = peer.description
            if silent.contains(p) { return [] }
            switch m {
            case let .welcome(w):
                for a in w.accepted { tokens[a.index] = a.token }
                return []
            case let .model(model):
                models[p] = model
                return []
            case let .train(t):
                guard let model = models[p] else { return [] }
                return t.clients.map { c in
                    let delta = model.parameters.enumerated().map { i, w in
                        Float(((i * 7 + c * 13 + t.round * 5) % 11) - 5) * 0.001 - 0.01 * w
                    }
                    return .update(UpdateMessage(round: t.round, clientIndex: c, token: tokens[c] ?? 0, samples: 10 + c,
                                                 metrics: ["train_loss": poisonMetrics ? .infinity : 1.0 / Double(c + 1), "dataset_size": Double(20 + c)], delta: delta))
                }
            case .heartbeat:
                return [.heartbeat]
            default:
                return []
            }
        }
    }

    struct Run {
        var server: FederatedServer
        var transport: InMemoryServerTransport
        var scripted: ScriptedProcesses
    }

    static func makeRun(_ topology: Topology, resume: Bool = false, stopAfterRound: Int? = nil,
                        configure: (InMemoryServerTransport, ScriptedProcesses) -> Void = { _, _ in }) throws -> Run {
        let clock = ManualSecondsClock()
        let transport = InMemoryServerTransport(clock: clock)
        let scripted = ScriptedProcesses()
        transport.respond = { scripted.respond($0, $1) }
        configure(transport, scripted)
        let logDir = topology.output + "/" + topology.name
        let stop: @Sendable () -> Bool = {
            guard let stopAfterRound else { return false }
            return ((try? AggregationLog.read(path: logDir + "/aggregation.jsonl"))?.rounds.last?.round ?? 0) >= stopAfterRound
        }
        let server = try FederatedServer(topology: topology,
                                         options: .init(overwrite: !resume, resume: resume, shouldStop: stop, clock: clock,
                                                        makeTransport: { _, _ in transport }, roundsOnWorkerThread: false),
                                         logger: Logger(label: "test"))
        return Run(server: server, transport: transport, scripted: scripted)
    }

    static func hello(_ clients: [Int], tokens: [Int: SessionToken] = [:]) -> Message {
        .hello(HelloMessage(processName: "p", claims: clients.map { ClientClaim(index: $0, token: tokens[$0] ?? 0) }))
    }

    @Test func aFederationRunsToTheEndWithOneModelPerProcessPerRound() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir))
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        run.transport.deliver(Self.hello([2, 3]), from: PeerID(bytes: Array("b".utf8)))
        let summary = try run.server.run()
        #expect(summary.success, "\(summary.reason)")
        let models = run.transport.sent.filter { if case .model = $0.message { true } else { false } }
        #expect(models.count == 4 * 2)  // 4 rounds × 2 processes, not × 4 clients
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.map(\.accepted) == Array(repeating: [0, 1, 2, 3], count: 4))
        #expect(log.rounds.allSatisfy { ($0.bytesSent ?? 0) > 0 && ($0.bytesReceived ?? 0) > 0 })
        #expect(run.transport.closed)
    }

    @Test func aSilentProcessIsDroppedWithinTheLivenessWindowNotTheRoundTimeout() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir, rounds: 2))
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        run.transport.deliver(Self.hello([2, 3]), from: PeerID(bytes: Array("b".utf8)))
        run.scripted.silent = ["b"]
        let summary = try run.server.run()
        // Half the federation gone for good: the run completes its rounds but is degraded.
        #expect(!summary.success && summary.reason.hasPrefix("degraded: 2 of 4 registered clients were lost and did not come back"),
                "\(summary.reason)")
        #expect(summary.population == "clients 2,3 lost and not back (2 of 4)")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.runEnd?.lostClients == [2, 3] && log.rounds.count == 2)
        let first = try #require(log.rounds.first)
        #expect(first.lost == [2, 3] && first.accepted == [0, 1])
        // 3 missed 1 s heartbeats, not the 300 s round timeout (the clock is manual).
        #expect(first.durationSeconds < 10, "round took \(first.durationSeconds) s")
        #expect(log.notes.contains { $0.event == "process_lost" })
    }

    /// Handshakes of the other security mechanism are logged with what to do: a certain mismatch
    /// (the client's greeting named its mechanism) and the common case, a client that closed
    /// mid-handshake before naming it (issue 27), each as its own note.
    @Test func failedHandshakesAreLoggedWithTheirLikelyCause() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir, clients: 2, rounds: 1)) { transport, _ in
            transport.handshakeFailures = HandshakeFailures(mismatched: 1, closedEarly: 3)
        }
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        #expect(try run.server.run().success)
        let notes = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl").notes
        let mismatch = try #require(notes.first { $0.event == "security_mismatch" })
        #expect(mismatch.message == "a CURVE client tried to connect; this server is plaintext "
                + "(start the server with --curve-secret and --allow, or drop the client's keys)")
        #expect(mismatch.values?["attempts"] == 1)
        let closed = try #require(notes.first { $0.event == "handshake_closed" })
        #expect(closed.message.hasPrefix("a client closed its connection mid-handshake, before sending its security mechanism; "
                                          + "this server is plaintext, and a CURVE client leaves so"), "\(closed.message)")
        #expect(closed.values?["attempts"] == 3)
        let issues = notes.filter { $0.event == "protocol_issues" }.map(\.message).joined()
        #expect(issues.contains("1 × security mechanism mismatch") && issues.contains("3 × handshake closed before its mechanism"), "\(issues)")
    }

    @Test func aHijackingHelloIsRefusedAndCountedOncePerRound() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir, clients: 2, rounds: 1))
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        for i in 0..<50 { run.transport.deliver(Self.hello([1]), from: PeerID(bytes: Array("thief\(i % 2)".utf8))) }
        let summary = try run.server.run()
        #expect(summary.success)
        let refusals = run.transport.sent.compactMap { s -> WelcomeMessage? in
            if case let .welcome(w) = s.message, s.peer.description.hasPrefix("thief") { w } else { nil }
        }
        #expect(refusals.count == 50 && refusals.allSatisfy { $0.accepted.isEmpty })
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        let issues = log.notes.filter { $0.event == "protocol_issues" }
        #expect(issues.count == 1, "one summary line, not one per HELLO")
        #expect(issues.first?.message.contains("25 × claim of a held slot") == true, "\(issues.first?.message ?? "")")
        #expect(log.rounds.first?.accepted == [0, 1])
    }

    /// A process whose queue is full is dropped at once and counted; the run goes on with the
    /// others and never waits on it (over sockets: HostilePeerTests).
    @Test func aProcessThatStopsReadingIsDroppedAndCounted() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir, rounds: 2))
        let b = PeerID(bytes: Array("b".utf8))
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        run.transport.deliver(Self.hello([2, 3]), from: b)
        // Its WELCOME went out; from round 1's MODEL on, its queue is full.
        run.transport.respond = { [scripted = run.scripted, transport = run.transport] peer, m in
            if peer == b, case .model = m { transport.notReading.insert(b) }
            return scripted.respond(peer, m)
        }
        let summary = try run.server.run()
        // Both rounds run without it; losing half the population for good is a degraded run
        // (`[server] max_lost_share`), which says so and names the clients.
        #expect(!summary.success && summary.reason.hasPrefix("degraded") && summary.reason.contains("clients 2,3"), "\(summary.reason)")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.rounds.count == 2)
        let first = try #require(log.rounds.first)
        #expect(first.accepted == [0, 1] && first.lost == [2, 3])
        #expect(first.durationSeconds < 10, "dropped at once, not after the liveness window: \(first.durationSeconds) s")
        #expect(log.notes.contains { $0.event == "process_lost" && $0.message.contains("stopped reading") })
        let issues = log.notes.filter { $0.event == "protocol_issues" }.map(\.message).joined(separator: " ")
        #expect(issues.contains("send queue full"), "\(issues)")
    }

    @Test func aRunThatMergesNothingFailsWithTheReason() throws {
        let dir = Self.temporaryDirectory()
        let run = try Self.makeRun(try Self.topology(dir: dir, clients: 2, rounds: 3))
        run.scripted.poisonMetrics = true
        run.transport.deliver(Self.hello([0, 1]), from: PeerID(bytes: Array("a".utf8)))
        let summary = try run.server.run()
        #expect(!summary.success)
        #expect(summary.reason.contains("no round merged any update"), "\(summary.reason)")
        #expect(summary.reason.contains("metric train_loss is inf"), "\(summary.reason)")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.runEnd?.status.hasPrefix("failed: no round merged") == true)
        let allKept = log.rounds.allSatisfy { $0.modelKept }
        #expect(allKept)
    }

    @Test func anInterruptedRunResumesToTheByteIdenticalFinalCheckpoint() throws {
        for optimizer in ["", "[merge]\nserver_optimizer = \"fedadam\"\nserver_lr = 0.01"] {
            let dirA = Self.temporaryDirectory(), dirB = Self.temporaryDirectory()
            let full = try Self.makeRun(try Self.topology(dir: dirA, rounds: 5, optimizer: optimizer))
            full.transport.deliver(Self.hello([0, 1, 2, 3]), from: PeerID(bytes: Array("a".utf8)))
            #expect(try full.server.run().success)

            let first = try Self.makeRun(try Self.topology(dir: dirB, rounds: 5, optimizer: optimizer), stopAfterRound: 2)
            first.transport.deliver(Self.hello([0, 1, 2, 3]), from: PeerID(bytes: Array("a".utf8)))
            #expect(try first.server.run().success == false)  // interrupted after round 2

            let resumed = try Self.makeRun(try Self.topology(dir: dirB, rounds: 5, optimizer: optimizer), resume: true)
            resumed.transport.deliver(Self.hello([0, 1, 2, 3]), from: PeerID(bytes: Array("b".utf8)))
            #expect(try resumed.server.run().success)

            let a = try Data(contentsOf: URL(fileURLWithPath: dirA + "/mem/checkpoints/round-0005.safetensors"))
            let b = try Data(contentsOf: URL(fileURLWithPath: dirB + "/mem/checkpoints/round-0005.safetensors"))
            #expect(a == b, "optimizer '\(optimizer)'")
            let logA = try AggregationLog.read(path: dirA + "/mem/aggregation.jsonl")
            let logB = try AggregationLog.read(path: dirB + "/mem/aggregation.jsonl")
            #expect(logA.rounds.map(\.round) == logB.rounds.map(\.round))
            #expect(logA.rounds.map(\.eval) == logB.rounds.map(\.eval))
            #expect(logA.rounds.map(\.weights) == logB.rounds.map(\.weights))
            #expect(logB.records.contains { if case .resumed = $0 { true } else { false } })
        }
    }
}
