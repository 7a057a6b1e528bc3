import Foundation
import Logging
import Synchronization
import Testing
@testable import AviaryClient
import AviaryData
import AviaryNN
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// A whole client process (registration, the training thread, heartbeats, reconnects, stop
/// requests) driven through the in-memory transport by a scripted server and a manual clock:
/// what the process sends, without sockets or a server process.
@Suite struct ClientHostTests {
    /// Two synthetic clients and a small MLP: training takes milliseconds.
    static let spec: (json: [UInt8], parameters: Int) = {
        let topology = try! Topology.parse("""
            [run]
            name = "host"
            rounds = 2
            [seeds]
            partition = 1
            sampling = 2
            training = 3
            [data]
            dataset = "synthetic"
            alpha = 1.0
            beta = 1.0
            clients = 2
            [model]
            kind = "mlp"
            hidden = [4]
            [train]
            local_epochs = 1
            batch_size = 10
            learning_rate = 0.05
            """)
        let test = try! FederatedDataset(spec: topology.data).globalTest()
        let model = try! topology.model.resolve(sampleShape: test.sampleShape, classes: test.classes)
        return (Array(try! JSONEncoder().encode(topology.runSpec(model: model))), model.parameterCount)
    }()

    /// The server side of every connection the host opens; `answer` decides what it says.
    final class ScriptedServer: @unchecked Sendable {
        let clock = ManualSecondsClock()
        private(set) var connections: [InMemoryClientTransport] = []
        /// The server's answer to each message the host sends (default: WELCOME every claim
        /// with token 100 + index, answer heartbeats).
        var answer: (Message) -> [Message] = { _ in [] }
        /// Set once the first WELCOME went out.
        let welcomed = Flag()

        /// What the first connection receives before anything the host sends is answered.
        var preload: [Result<Message, CodecError>] = []

        func connect() -> InMemoryClientTransport {
            let t = InMemoryClientTransport(clock: clock)
            t.respond = { [unowned self] in self.answer($0) }
            if connections.isEmpty { t.inbox = preload }
            connections.append(t)
            return t
        }

        var sent: [Message] { connections.flatMap(\.sent) }

        func welcome(_ hello: HelloMessage) -> Message {
            welcomed.set()
            return .welcome(WelcomeMessage(accepted: hello.claims.compactMap { $0.index }.map { .init(index: $0, token: 100 + UInt64($0)) },
                                           refused: [], heartbeatInterval: 1, liveness: 3, runSpec: ClientHostTests.spec.json))
        }
    }

    /// A flag the stop request can read from any thread.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    func host(_ server: ScriptedServer, clients: [Int?] = [0, 1], serverTimeout: Double = 120,
              shouldStop: @escaping @Sendable () -> Bool = { false }) -> ClientHost {
        ClientHost(options: .init(endpoint: "inmemory://server", indices: clients, name: "test", serverTimeout: serverTimeout,
                                  shouldStop: shouldStop, clock: server.clock, makeTransport: { _, _ in server.connect() }),
                   logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    @Test func registersTrainsEveryClientItIsToldToAndSaysGoodbyeOnShutdown() throws {
        let server = ScriptedServer()
        var updates: [UpdateMessage] = []
        server.answer = { m in
            switch m {
            case let .hello(h):
                return [server.welcome(h), .model(ModelMessage(round: 1, parameters: [Float](repeating: 0.01, count: Self.spec.parameters))),
                        .train(TrainMessage(round: 1, clients: [0, 1], config: [:]))]
            case let .update(u):
                updates.append(u)
                return updates.count == 2 ? [.shutdown(ShutdownMessage(reason: "run complete"))] : []
            case .heartbeat: return [.heartbeat]
            default: return []
            }
        }
        try host(server).run()
        #expect(updates.map(\.clientIndex).sorted() == [0, 1])
        for u in updates {
            #expect(u.round == 1 && u.token == 100 + UInt64(u.clientIndex), "each UPDATE carries its client's token")
            guard case let .f32(delta) = u.payload else { Issue.record("not f32: \(u.payload)"); continue }
            #expect(delta.count == Self.spec.parameters && delta.allSatisfy(\.isFinite) && delta.contains { $0 != 0 })
        }
        #expect(server.sent.last == .bye(ByeMessage(clients: [0, 1])))
        #expect(server.connections.count == 1 && server.connections[0].closed)
    }

    @Test func reconnectsWithItsTokensWhenTheServerFallsSilentThenGivesUp() throws {
        let server = ScriptedServer()
        server.answer = { m in
            if case let .hello(h) = m, !server.welcomed.isSet { return [server.welcome(h)] }
            return []  // then silence
        }
        #expect {
            try host(server, serverTimeout: 10).run()
        } throws: { error in
            "\(error)".contains("for 10 s")
        }
        // Liveness (3 × 1 s) calls the server dead long before the 10 s timeout: the host opens
        // a new connection and claims its clients again with the tokens it was given.
        #expect(server.connections.count >= 2)
        #expect(server.connections.dropLast().allSatisfy { $0.closed })
        guard case let .hello(again)? = server.connections[1].sent.first else {
            Issue.record("no HELLO on the new connection: \(server.connections[1].sent)"); return
        }
        #expect(again.claims == [ClientClaim(index: 0, token: 100), ClientClaim(index: 1, token: 101)])
        #expect(server.clock.now >= 10 && server.clock.now < 11, "gave up at the timeout: \(server.clock.now)")
    }

    @Test func aStopRequestSaysGoodbyeAndEndsInterrupted() throws {
        let server = ScriptedServer()
        // The signal arrives once the host is registered (its first heartbeat shows it is).
        let signalled = Flag()
        server.answer = { m in
            switch m {
            case let .hello(h): return [server.welcome(h)]
            case .heartbeat:
                signalled.set()
                return [.heartbeat]
            default: return []
            }
        }
        #expect {
            try host(server, clients: [1], shouldStop: { signalled.isSet }).run()
        } throws: { error in
            if case HostError.interrupted = error { true } else { false }
        }
        #expect(server.sent.last == .bye(ByeMessage(clients: [1])), "\(server.sent)")
    }

    @Test func aTrainWithoutItsModelFailsTheClientAndBadBytesAreDropped() throws {
        let server = ScriptedServer()
        // Bytes the codec refused arrive before anything else: logged and dropped, nothing more.
        server.preload = [.failure(.unknownKind(99))]
        var failures: [FailureMessage] = []
        server.answer = { m in
            switch m {
            case let .hello(h): return [server.welcome(h), .train(TrainMessage(round: 3, clients: [0], config: [:]))]
            case let .failure(f):
                failures.append(f)
                return [.shutdown(ShutdownMessage(reason: "done"))]
            default: return []
            }
        }
        try host(server, clients: [0]).run()
        #expect(failures.count == 1)
        #expect(failures.first?.round == 3 && failures.first?.clientIndex == 0 && failures.first?.token == 100)
        #expect(failures.first?.reason.contains("without its MODEL") == true, "\(failures)")
        #expect(server.connections.count == 1)
    }

    @Test func aRejectedProcessEndsWithTheServersReason() throws {
        let server = ScriptedServer()
        server.answer = { m in
            if case .hello = m { return [.reject(RejectMessage(reason: "protocol version 1 is not supported"))] }
            return []
        }
        #expect {
            try host(server).run()
        } throws: { error in
            "\(error)".contains("the server refused this process: protocol version 1 is not supported")
        }
        #expect(server.connections.count == 1, "a refused process does not reconnect")
    }
}
