import Testing
import AviaryProtocol

/// CURVE allow-list bindings in registration: a key bound to client 3 cannot register client 4,
/// and nothing registers without an allow-listed key once there is a list.
@Suite struct KeyBindingTests {
    typealias Machine = ServerStateMachine<String>
    static let key3 = String(repeating: "3", count: 40)
    static let keyAny = String(repeating: "z", count: 40)
    static let stranger = String(repeating: "s", count: 40)

    func makeMachine() -> Machine {
        let list = AllowList(bindings: [Self.key3: .indices([3...3, 7...8]), Self.keyAny: .any])
        var m = Machine(configuration: .init(
            clients: 10, minClientsToStart: 10, clientsPerRound: 10, rounds: 1, parameterCount: 2,
            roundTimeout: 100, registrationTimeout: 30, samplingSeed: 1, tokenSeed: 5, runSpec: [], allowList: list))
        _ = m.start(parameters: [0, 0], now: 0)
        return m
    }

    func welcome(_ actions: [Machine.Action]) -> WelcomeMessage? {
        for case let .send(_, .welcome(w)) in actions { return w }
        return nil
    }

    func hello(_ indices: [Int?]) -> Message {
        .hello(HelloMessage(processName: "p", claims: indices.map { ClientClaim(index: $0) }))
    }

    @Test func aKeyBoundToThreeCannotRegisterFour() throws {
        var m = makeMachine()
        let w = try #require(welcome(m.receive(hello([3, 4]), from: "a", clientKey: Self.key3, now: 1)))
        #expect(w.accepted.map(\.index) == [3])
        #expect(w.accepted[0].token != 0)
        #expect(w.refused.count == 1)
        #expect(w.refused[0].indices == [4...4] && w.refused[0].claims == 1)
        #expect(w.refused[0].retry == false)
        #expect(w.refused[0].reason == .keyBoundElsewhere(key: Self.key3, binding: .indices([3...3, 7...8])))
        #expect(w.refused[0].reason.description.contains("bound to clients 3,7-8"))
        #expect(m.token(of: 4) == 0)
        #expect(m.peer(hosting: 4) == nil)
        #expect(m.registeredCount == 1)
    }

    @Test func serverAssignedClaimsStayInsideTheBinding() throws {
        var m = makeMachine()
        let w = try #require(welcome(m.receive(hello([nil, nil, nil, nil]), from: "a", clientKey: Self.key3, now: 1)))
        #expect(w.accepted.map(\.index) == [3, 7, 8])
        #expect(w.refused.map(\.indices) == [[]] && w.refused.map(\.claims) == [1])
    }

    @Test func anUnboundKeyMayRegisterAnyIndex() throws {
        var m = makeMachine()
        let w = try #require(welcome(m.receive(hello([4, 9]), from: "b", clientKey: Self.keyAny, now: 1)))
        #expect(w.accepted.map(\.index) == [4, 9])
        #expect(w.refused.isEmpty)
    }

    @Test func withoutAnAllowListedKeyNothingRegisters() throws {
        var m = makeMachine()
        for key in [nil, Self.stranger] {
            let w = try #require(welcome(m.receive(hello([1, nil]), from: "c", clientKey: key, now: 1)))
            #expect(w.accepted.isEmpty)
            #expect(w.refused.count == 1 && w.refused[0].claims == 2, "one entry per reason, counting both claims")
            #expect(w.refused.allSatisfy { !$0.retry })
        }
        #expect(m.registeredCount == 0)
        #expect(m.peerCount == 0)
    }

    @Test func noAllowListMeansNoBinding() throws {
        var m = Machine(configuration: .init(
            clients: 10, minClientsToStart: 10, clientsPerRound: 10, rounds: 1, parameterCount: 2,
            roundTimeout: 100, registrationTimeout: 30, samplingSeed: 1, runSpec: []))
        _ = m.start(parameters: [0, 0], now: 0)
        let w = try #require(welcome(m.receive(hello([4]), from: "a", now: 1)))
        #expect(w.accepted.map(\.index) == [4])
    }
}
