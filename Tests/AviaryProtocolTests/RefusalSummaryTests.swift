import Testing
import AviaryProtocol

/// WELCOME's refusals are summarised per reason (protocol version 4): however many claims a
/// HELLO gets wrong, the answer holds one entry per reason with a count and a few ranges.
@Suite struct RefusalSummaryTests {
    typealias Machine = ServerStateMachine<String>

    func makeMachine(clients: Int) -> Machine {
        var m = Machine(configuration: .init(
            clients: clients, minClientsToStart: clients, clientsPerRound: clients, rounds: 1, firstRound: 1,
            parameterCount: 1, roundTimeout: 100, registrationTimeout: 30,
            liveness: LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3),
            samplingSeed: 7, tokenSeed: 99, runSpec: Array("{}".utf8)))
        _ = m.start(parameters: [0], now: 0)
        return m
    }

    func welcome(_ actions: [Machine.Action]) -> WelcomeMessage? {
        for case let .send(_, .welcome(w)) in actions { return w }
        return nil
    }

    /// The reproduction of issue 24: 61,000 out-of-range claims, no two adjacent, made a 3.3 MB
    /// WELCOME with one entry per claim. Now one entry, its count and its lowest 8 indices.
    @Test func manyBadClaimsGetOneSmallEntry() throws {
        var m = makeMachine(clients: 2)
        let claims = (0..<61_000).map { ClientClaim(index: 1_000_000 + 2 * $0) } + [ClientClaim(index: 1)]
        let actions = m.receive(.hello(HelloMessage(processName: "flood", claims: claims)), from: "f", now: 1)
        let w = try #require(welcome(actions))
        #expect(w.accepted.map(\.index) == [1])
        #expect(w.refused.count == 1)
        let r = try #require(w.refused.first)
        #expect(r.claims == 61_000 && !r.retry)
        #expect(r.indices == (0..<8).map { 1_000_000 + 2 * $0 }.map { $0...$0 })
        #expect(r.reason == .outsideTopology(clients: 2))
        #expect(WireCodec.encodedSize(.welcome(w)) < 512, "\(WireCodec.encodedSize(.welcome(w))) bytes")
        #expect(r.description == "clients 1000000,1000002,1000004,1000006,1000008,1000010,1000012,1000014,… (61000 claims): outside the topology's clients 0..<2")
        // The server's log counts every claim, once per reason.
        let registration = actions.compactMap { if case let .registered(_, r) = $0 { r } else { nil } }.first
        #expect(registration?.refused == w.refused)
    }

    @Test func claimsAreGroupedByReasonWithTheLowestRanges() {
        var s = RefusalSummary()
        for i in [9, 3, 4, 5, 7, 3] { s.refuse(i, .outsideTopology(clients: 2)) }
        s.refuse(nil, .heldByLiveProcess(holder: "p1"))
        s.refuse(nil, .heldByLiveProcess(holder: "p2"))  // same category: the first holder is named
        s.refuse(2, .heldByLiveProcess(holder: "p3"))
        #expect(s.refused == [
            WelcomeMessage.Refused(reason: .outsideTopology(clients: 2), retry: false, claims: 6, indices: [3...5, 7...7, 9...9]),
            WelcomeMessage.Refused(reason: .heldByLiveProcess(holder: "p1"), retry: true, claims: 3, indices: [2...2]),
        ])
        // Repeats and server-assigned claims count, but are not listed (hence "…").
        #expect(s.refused.map(\.description) == [
            "clients 3-5,7,9,… (6 claims): outside the topology's clients 0..<2",
            "clients 2,… (3 claims): held by a live process (the first by p1); re-registering needs the session token issued to its holder"])
        var one = RefusalSummary()
        one.refuse(nil, .allSlotsTaken(clients: 2))
        #expect(one.refused.map(\.description) == ["1 claim, server-assigned: all 2 client slots are taken"])
        var single = RefusalSummary()
        single.refuse(Int.max, .claimedTwice)
        single.refuse(Int.max - 1, .claimedTwice)
        #expect(single.refused.first?.indices == [(Int.max - 1)...Int.max])
        // A peer's entry may span all of Int: describing it must not trap.
        let wide = WelcomeMessage.Refused(reason: .stated("R"), retry: false, claims: 3, indices: [Int.min...(-1), 0...Int.max])
        #expect(wide.description == "clients -9223372036854775808--1,0-9223372036854775807 (3 claims): R")
    }

    /// Each reason knows its category and whether retrying may help; the wire carries only the
    /// rendered sentence (protocol version 4 unchanged), which a client decodes as `.stated`.
    @Test func reasonsAreTypedAndTheWireCarriesTheirSentence() throws {
        let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        let binding = AllowList.Binding.indices([0...3, 9...9])
        let reasons: [RefusalReason] = [
            .unauthenticated, .keyNotAllowed(key: key), .keyBoundElsewhere(key: key, binding: binding),
            .noFreeBoundSlot(binding: binding), .allSlotsTaken(clients: 4), .outsideTopology(clients: 4),
            .claimedTwice, .heldByLiveProcess(holder: "host-a"), .evaluatorAlreadyConnected,
        ]
        #expect(Set(reasons.map(\.category)).count == reasons.count, "one category per case")
        #expect(reasons.filter(\.retry) == [.heldByLiveProcess(holder: "host-a"), .evaluatorAlreadyConnected])
        #expect(RefusalReason.keyBoundElsewhere(key: key, binding: binding).description
                == "client key rq:rM>}U… is bound to clients 0-3,9 by the allow-list, not to these")
        for reason in reasons {
            let sent = WelcomeMessage(accepted: [], refused: [.init(reason: reason, claims: 1, indices: [7...7])],
                                      heartbeatInterval: 1, liveness: 3, runSpec: [])
            guard case let .welcome(got) = try WireCodec.decode(WireCodec.encode(.welcome(sent))) else {
                Issue.record("not a WELCOME"); continue
            }
            #expect(got.refused == [.init(reason: .stated(reason.description), retry: reason.retry, claims: 1, indices: [7...7])])
            #expect(got.refused.first?.description == sent.refused.first?.description)
        }
    }

    @Test func heldClaimsFromManyHoldersShareOneEntry() throws {
        var m = makeMachine(clients: 40)
        for p in 0..<20 { _ = m.receive(.hello(HelloMessage(processName: "h\(p)", claims: [ClientClaim(index: p)])), from: "h\(p)", now: 1) }
        let w = try #require(welcome(m.receive(.hello(HelloMessage(processName: "thief", claims: (0..<20).map { ClientClaim(index: $0) })),
                                               from: "t", now: 2)))
        #expect(w.refused.count == 1)
        #expect(w.refused.first?.claims == 20 && w.refused.first?.retry == true)
        #expect(w.refused.first?.indices == [0...19])
        #expect(w.refused.first?.reason == .heldByLiveProcess(holder: "h0"))
    }

    /// A client told "held, retry" for some of its claims asks again for exactly those, though the
    /// WELCOME only lists the lowest ranges.
    @Test func aClientRetriesWhatWasNotAccepted() {
        var c = ClientStateMachine(configuration: .init(
            processName: "p", claims: (0..<20).map { Optional($0) }, serverTimeout: 60,
            liveness: LivenessSettings(heartbeatIntervalSeconds: 1, missedHeartbeats: 3),
            backoff: ReconnectBackoff(initialSeconds: 1, maximumSeconds: 32, jitter: 0), tokenSeed: 5))
        _ = c.start(now: 0)
        let accepted = (0..<10).map { WelcomeMessage.Accepted(index: $0, token: UInt64($0) + 1) }
        let w = WelcomeMessage(accepted: accepted,
                               refused: [.init(reason: .stated("held"), retry: true, claims: 10, indices: [10...10])],
                               heartbeatInterval: 1, liveness: 3, runSpec: [])
        let actions = c.receive(.welcome(w), now: 0.1)
        #expect(!actions.contains { if case .exit = $0 { true } else { false } })
        var hellos: [HelloMessage] = []
        for t in stride(from: 0.2, through: 2.5, by: 0.1) {
            for case let .send(.hello(h)) in c.tick(now: t) { hellos.append(h) }
            if !hellos.isEmpty { break }
        }
        #expect(hellos.first?.claims.compactMap(\.index) == Array(10..<20))
    }
}
