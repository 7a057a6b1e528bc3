import Foundation
import Logging
import Testing
import AviaryLog
import AviaryProtocol
import AviaryServer
import AviaryTransport

/// A whole server with an allow-list, through the in-memory transport: connections carry the
/// key the (simulated) ZAP handler authenticated; bindings are enforced; refused handshakes
/// are counted in one `protocol_issues` note per round.
@Suite struct CurveServerTests {
    static let keyA = String(repeating: "a", count: 40)
    static let keyB = String(repeating: "b", count: 40)

    @Test func bindingsAreEnforcedAndRefusedHandshakesCountedOncePerRound() throws {
        let dir = InMemoryServerTests.temporaryDirectory()
        let topology = try InMemoryServerTests.topology(dir: dir, clients: 4, rounds: 2)
        let clock = ManualSecondsClock()
        let transport = InMemoryServerTransport(clock: clock)
        let scripted = InMemoryServerTests.ScriptedProcesses()
        transport.respond = { scripted.respond($0, $1) }
        let list = AllowList(bindings: [Self.keyA: .indices([0...1]), Self.keyB: .indices([2...3])])
        let a = PeerID(bytes: Array("a".utf8)), b = PeerID(bytes: Array("b".utf8)), thief = PeerID(bytes: Array("thief".utf8))
        transport.keyOfPeer = [a: Self.keyA, b: Self.keyB, thief: Self.keyB]
        transport.refusedHandshakes = [RefusedHandshake(address: "10.0.0.9", key: "stranger", attempts: 40)]
        // B's key is stolen: it still cannot take A's clients.
        transport.deliver(InMemoryServerTests.hello([0]), from: thief)
        transport.deliver(InMemoryServerTests.hello([0, 1]), from: a)
        transport.deliver(InMemoryServerTests.hello([2, 3]), from: b)
        let server = try FederatedServer(
            topology: topology,
            options: .init(overwrite: true, clock: clock, makeTransport: { _, _ in transport }, roundsOnWorkerThread: false,
                           security: .curve(server: CurveKeyPair(publicKey: "unused", secretKey: "unused"), allowList: list)),
            logger: Logger(label: "test"))
        let summary = try server.run()
        #expect(summary.success, "\(summary.reason)")
        let refusal = transport.sent.compactMap { s -> WelcomeMessage? in
            if case let .welcome(w) = s.message, s.peer == thief { w } else { nil }
        }.first
        #expect(refusal?.accepted.isEmpty == true)
        #expect(refusal?.refused.first?.reason.description.contains("bound to clients 2-3") == true, "\(String(describing: refusal))")
        let log = try AggregationLog.read(path: dir + "/mem/aggregation.jsonl")
        #expect(log.runStart?.curve == true)
        // The topology says nothing of CURVE (as for `aviary-server --curve-secret`): the config records what is in force.
        #expect(topology.config["security.curve"] != .bool(true))
        #expect(log.runStart?.config?["security.curve"] == .bool(true))
        #expect(log.rounds.map(\.accepted) == [[0, 1, 2, 3], [0, 1, 2, 3]])
        let issues = log.notes.filter { $0.event == "protocol_issues" }.map(\.message)
        #expect(issues.count == 1, "\(issues)")
        #expect(issues.first?.contains("10.0.0.9: 40 × CURVE handshake refused") == true, "\(issues)")
    }
}
