import Testing
import AviaryProtocol

/// Getting a client's slot back after a refusal, without sockets: the client keeps the token of
/// every claim refused for now (and proposes one with its first claims) and presents it on every
/// retry; the server hands a slot to the right token at once, and still refuses strangers and
/// keys outside their allow-list binding.
@Suite struct RegistrationReclaimTests {
    typealias Client = ClientStateMachine
    typealias Server = ServerStateMachine<String>

    /// Client liveness 3 s (1 s × 3), so it reconnects while the server (2 s × 3 = 6 s) still
    /// counts the old connection as live.
    func makeClient(claims: [Int?] = [0, 1], tokenSeed: UInt64? = nil) -> Client {
        Client(configuration: .init(processName: "proc-0", claims: claims, serverTimeout: 60,
                                    liveness: LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3),
                                    backoff: ReconnectBackoff(initialSeconds: 1, maximumSeconds: 32, jitter: 0),
                                    jitterSeed: 1, tokenSeed: tokenSeed))
    }

    func makeServer(clients: Int = 2, allowList: AllowList? = nil) -> Server {
        var m = Server(configuration: .init(
            clients: clients, minClientsToStart: clients + 1, clientsPerRound: clients, rounds: 1, parameterCount: 2,
            roundTimeout: 100, registrationTimeout: 100, liveness: LivenessSettings(heartbeatIntervalSeconds: 2, missedHeartbeats: 3),
            samplingSeed: 1, tokenSeed: 5, runSpec: Array("{}".utf8), allowList: allowList))
        _ = m.start(parameters: [0, 0], now: 0)
        return m
    }

    func welcome(_ accepted: [(Int, SessionToken)], refused: [WelcomeMessage.Refused] = []) -> Message {
        .welcome(WelcomeMessage(accepted: accepted.map { .init(index: $0.0, token: $0.1) }, refused: refused,
                                heartbeatInterval: 1, liveness: 3, runSpec: Array("{}".utf8)))
    }

    func hellos(_ actions: [Client.Action]) -> [HelloMessage] {
        actions.compactMap { if case let .send(.hello(h)) = $0 { h } else { nil } }
    }

    func welcome(_ actions: [Server.Action], to peer: String) -> WelcomeMessage? {
        for case let .send(p, .welcome(w)) in actions where p == peer { return w }
        return nil
    }

    func hello(_ claims: [(Int?, SessionToken)]) -> Message {
        .hello(HelloMessage(processName: "p", claims: claims.map { ClientClaim(index: $0.0, token: $0.1) }))
    }

    static let busy = WelcomeMessage.Refused(reason: .stated("held by a live process"), retry: true, claims: 1, indices: [1...1])

    // MARK: Client

    @Test func aHostedClientRefusedForNowKeepsItsTokenAndPresentsItOnEveryRetry() {
        var c = makeClient()
        _ = c.start(now: 0)
        _ = c.receive(welcome([(0, 10), (1, 11)]), now: 0.1)
        // The server goes quiet; the HELLO on the new connection finds client 1 held elsewhere.
        let lost = c.tick(now: 5)
        #expect(hellos(lost).first?.claims == [ClientClaim(index: 0, token: 10), ClientClaim(index: 1, token: 11)])
        _ = c.receive(welcome([(0, 10)], refused: [Self.busy]), now: 5.1)
        #expect(c.hostedClients == [0] && c.claimTokens == [1: 11])
        // Retried on the same connection with the token, again after a further refusal, and on
        // the next new connection too.
        #expect(hellos(c.tick(now: 6.2)).first?.claims == [ClientClaim(index: 1, token: 11)])
        _ = c.receive(welcome([], refused: [Self.busy]), now: 6.3)
        #expect(hellos(c.tick(now: 7.4)).first?.claims == [ClientClaim(index: 1, token: 11)])
        let again = c.tick(now: 11)
        #expect(hellos(again).first?.claims == [ClientClaim(index: 0, token: 10), ClientClaim(index: 1, token: 11)])
        // Accepted: hosted again, with the token the server says.
        _ = c.receive(welcome([(0, 10), (1, 11)]), now: 11.1)
        #expect(c.hostedClients == [0, 1] && c.tokens[1] == 11 && c.claimTokens.isEmpty)
    }

    @Test func firstClaimsCarryProposedTokensUntilAccepted() {
        var c = makeClient(claims: [0, 1, nil], tokenSeed: 42)
        let first = hellos(c.start(now: 0)).first!.claims
        #expect(first.count == 3 && first[0].token != 0 && first[1].token != 0 && first[0].token != first[1].token)
        #expect(first[2] == ClientClaim(index: nil))  // a server-assigned claim has no slot to prove
        // No answer: the HELLO on the next connection presents the same tokens.
        let retry = c.tick(now: 3)
        #expect(hellos(retry).first?.claims == first)
        // The server's word wins (a server that draws its own tokens).
        _ = c.receive(welcome([(0, 7), (1, first[1].token), (5, 9)]), now: 3.1)
        #expect(c.tokens == [0: 7, 1: first[1].token, 5: 9] && c.claimTokens.isEmpty)
        // Another machine with another seed proposes other tokens.
        var d = makeClient(claims: [0, 1, nil], tokenSeed: 43)
        #expect(hellos(d.start(now: 0)).first!.claims[0].token != first[0].token)
    }

    @Test func aClaimRefusedForGoodDropsItsTokenAndEndsTheProcess() {
        var c = makeClient(tokenSeed: 42)
        _ = c.start(now: 0)
        let a = c.receive(welcome([(0, 10)], refused: [.init(reason: .stated("bound to clients 0"), retry: false, claims: 1, indices: [1...1])]), now: 0.1)
        #expect(a.contains(.exit(success: false, reason: "the server refused client 1: bound to clients 0")))
        #expect(c.claimTokens[1] == nil && c.tokens[1] == nil && c.isDone)
    }

    // MARK: Server

    @Test func theRightTokenTakesALiveClientOverAtOnce() {
        var s = makeServer()
        let w = welcome(s.receive(hello([(0, 0), (1, 0)]), from: "old", now: 1), to: "old")!
        let t = w.accepted.map(\.token)
        let back = s.receive(hello([(0, t[0]), (1, t[1])]), from: "new", now: 2)  // "old" heard 1 s ago
        #expect(welcome(back, to: "new")?.accepted.map(\.token) == t)
        #expect(s.peer(hosting: 0) == "new" && s.peer(hosting: 1) == "new" && s.peerCount == 1)
        // The stale connection is forgotten: what it still sends is answered with RESET.
        let stale = s.receive(.heartbeat, from: "old", now: 2.5)
        #expect(stale.contains { if case .send("old", .reset) = $0 { true } else { false } })
    }

    @Test func aProposedTokenIsKeptSoARetryAfterALostWelcomeTakesTheSlotBack() {
        var s = makeServer()
        let first = welcome(s.receive(hello([(0, 1001), (1, 1002)]), from: "a", now: 1), to: "a")!
        #expect(first.accepted.map(\.token) == [1001, 1002])
        // That WELCOME never arrived; the process asks again on a new connection, "a" still live.
        let b = s.receive(hello([(0, 1001), (1, 1002)]), from: "b", now: 2)
        #expect(welcome(b, to: "b")?.accepted.map(\.index) == [0, 1])
        #expect(s.peer(hosting: 1) == "b")
    }

    @Test func aWrongTokenIsStillRefusedWhileTheHolderLivesAndGetsTheSlotOnceFreed() {
        var s = makeServer()
        let t = welcome(s.receive(hello([(0, 0), (1, 0)]), from: "holder", now: 1), to: "holder")!.accepted[1].token
        let w = welcome(s.receive(hello([(1, t &+ 1)]), from: "other", now: 2), to: "other")!
        #expect(w.accepted.isEmpty && w.refused.first?.retry == true && w.refused.first?.reason.description.contains("session token") == true)
        #expect(s.peer(hosting: 1) == "holder" && s.token(of: 1) == t)
        // The holder dies: the retry presenting the same token gets the slot, under that token.
        _ = s.peerUnreachable("holder", now: 3)
        let freed = welcome(s.receive(hello([(1, t &+ 1)]), from: "other", now: 4), to: "other")!
        #expect(freed.accepted.map(\.token) == [t &+ 1] && s.peer(hosting: 1) == "other")
    }

    @Test func theAllowListBindingHoldsEvenForTheRightToken() {
        let bound = String(repeating: "b", count: 40), other = String(repeating: "o", count: 40)
        var s = makeServer(allowList: AllowList(bindings: [bound: .indices([1...1]), other: .indices([0...0])]))
        let t = welcome(s.receive(hello([(1, 77)]), from: "a", clientKey: bound, now: 1), to: "a")!.accepted[0].token
        #expect(t == 77)
        let w = welcome(s.receive(hello([(1, t)]), from: "b", clientKey: other, now: 2), to: "b")!
        #expect(w.accepted.isEmpty && w.refused.first?.retry == false)
        #expect(w.refused.first?.reason.description.contains("bound to clients 0") == true)
        #expect(s.peer(hosting: 1) == "a")
    }

    // MARK: Both machines

    /// The client's first WELCOME is lost and it reconnects while the server still counts the
    /// first connection as live: with proposed tokens it is registered at once; without, the
    /// claims are refused until the server's liveness drops the first connection.
    @Test(arguments: [true, false]) func aLostFirstWelcomeCostsNoLivenessWindowWithProposedTokens(proposing: Bool) {
        var c = makeClient(tokenSeed: proposing ? 42 : nil)
        var s = makeServer()
        var connection = 1
        var hosted: [Int: SessionToken] = [:]
        func deliver(_ actions: [Client.Action], now: Double, dropWelcome: Bool) {
            var answers: [Message] = []
            for a in actions {
                if case .reconnect = a { connection += 1 }
                if case let .send(m) = a {
                    for case let .send(p, reply) in s.receive(m, from: "c\(connection)", now: now) where p == "c\(connection)" {
                        answers.append(reply)
                    }
                }
            }
            guard !dropWelcome else { return }
            for m in answers { _ = c.receive(m, now: now) }
            hosted = c.tokens
        }
        deliver(c.start(now: 0), now: 0, dropWelcome: true)
        deliver(c.tick(now: 3), now: 3, dropWelcome: false)  // the client's 3 s window; the server's is 6 s
        #expect(connection == 2)
        if proposing {
            #expect(hosted.keys.sorted() == [0, 1] && s.peer(hosting: 0) == "c2" && s.peerCount == 1)
        } else {
            #expect(hosted.isEmpty && s.peer(hosting: 0) == "c1")
        }
    }
}
