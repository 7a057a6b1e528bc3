import AviaryProtocol
import AviaryTransport
import Testing

/// The in-memory twin must behave as `ServerEndpoint` does from the server loop's side.
@Suite struct InMemoryServerTransportTests {
    let a = PeerID(bytes: Array("a".utf8))
    let b = PeerID(bytes: [0, 1, 2, 3, 4])

    @Test func deliveredMessagesAreReceivedInOrderWithTheirSizes() throws {
        let clock = ManualSecondsClock(10)
        let t = InMemoryServerTransport(clock: clock)
        #expect(t.boundEndpoint == "inmemory://server")
        let hello = Message.hello(HelloMessage(processName: "p", claims: [ClientClaim(index: nil, token: 4)]))
        let update = Message.update(UpdateMessage(round: 1, clientIndex: 0, token: 4, samples: 3, metrics: ["x": 1], delta: [1, 2]))
        t.deliver(hello, from: a)
        t.deliver(.heartbeat, from: b)
        t.deliver(update, from: a)
        var got: [(PeerID, Message)] = []
        while let event = try t.receive(timeout: .seconds(1)) {
            guard case .message(let peer, let m, let bytes, _) = event else { Issue.record("malformed"); continue }
            #expect(bytes == WireCodec.encodedSize(m))
            #expect(event.peer == peer)
            got.append((peer, m))
        }
        #expect(got.map { $0.0 } == [a, b, a])
        #expect(got.map { $0.1 } == [hello, .heartbeat, update])
        // Only the final, empty receive advanced the clock, by its timeout.
        #expect(clock.now == 11)
    }

    @Test func anEmptyReceiveAdvancesTheManualClockByItsTimeout() throws {
        let clock = ManualSecondsClock()
        let t = InMemoryServerTransport(clock: clock)
        #expect(try t.receive(timeout: .milliseconds(1500)) == nil)
        #expect(clock.now == 1.5)
        #expect(try t.receive(timeout: .seconds(300)) == nil)
        #expect(clock.now == 301.5)
        #expect(try t.receive(timeout: .zero) == nil)
        #expect(clock.now == 301.5)
        clock.advance(by: 0.25)
        #expect(clock.now == 301.75)
        // A queued event is returned at once: no time passes.
        t.deliver(.heartbeat, from: a)
        #expect(try t.receive(timeout: .seconds(60)) != nil)
        #expect(clock.now == 301.75)
    }

    @Test func malformedEventsPassThroughTheInbox() throws {
        let t = InMemoryServerTransport(clock: ManualSecondsClock())
        t.inbox.append(.malformed(b, .unknownKind(99), bytes: 12))
        let event = try #require(try t.receive(timeout: .seconds(1)))
        guard case .malformed(let peer, let error, let bytes) = event else { Issue.record("got a message"); return }
        #expect(peer == b && error == .unknownKind(99) && bytes == 12)
    }

    @Test func sendsAreRecordedAndReturnTheEncodedSize() throws {
        let t = InMemoryServerTransport(clock: ManualSecondsClock())
        let welcome = Message.welcome(WelcomeMessage(accepted: [.init(index: 0, token: 9)], refused: [],
                                                     heartbeatInterval: 2, liveness: 3, runSpec: Array("{}".utf8)))
        let model = Message.model(ModelMessage(round: 1, parameters: [0.5, -1, .infinity]))
        #expect(try t.send(welcome, to: a) == WireCodec.encodedSize(welcome))
        let encoded = EncodedMessage(model)
        #expect(try t.send(encoded, to: a) == WireCodec.encodedSize(model))
        #expect(try t.send(encoded, to: b) == encoded.count)
        #expect(t.sent.map { $0.peer } == [a, a, b])
        #expect(t.sent.map { $0.message } == [welcome, model, model])
        #expect(!t.closed)
        t.close(flushingFor: .seconds(2))
        #expect(t.closed)
    }

    @Test func unreachablePeersThrowAndAreNotRecorded() throws {
        let t = InMemoryServerTransport(clock: ManualSecondsClock())
        t.unreachable = [b]
        #expect(throws: ZmqError.peerUnreachable(b)) { try t.send(.heartbeat, to: b) }
        #expect(throws: ZmqError.peerUnreachable(b)) { try t.send(EncodedMessage(.heartbeat), to: b) }
        #expect(try t.send(.heartbeat, to: a) == 12)
        #expect(t.sent.map { $0.peer } == [a])
        t.unreachable = []
        #expect(try t.send(.heartbeat, to: b) == 12)
        #expect(t.sent.map { $0.peer } == [a, b])
    }

    @Test func respondScriptsPeersThatAnswer() throws {
        let t = InMemoryServerTransport(clock: ManualSecondsClock())
        // A scripted process: MODEL is remembered silently, TRAIN is answered with one UPDATE
        // per listed client, SHUTDOWN with BYE.
        t.respond = { peer, m in
            switch m {
            case .train(let train):
                train.clients.map { .update(UpdateMessage(round: train.round, clientIndex: $0, token: 7, samples: 10,
                                                          metrics: [:], delta: [Float($0)])) }
            case .shutdown: [.bye(ByeMessage(clients: peer == Self.pa ? [1, 2] : []))]
            default: []
            }
        }
        _ = try t.send(EncodedMessage(.model(ModelMessage(round: 3, parameters: [1]))), to: a)
        #expect(t.inbox.isEmpty)
        _ = try t.send(.train(TrainMessage(round: 3, clients: [1, 2], config: [:])), to: a)
        _ = try t.send(.shutdown(ShutdownMessage(reason: "done")), to: a)
        var answers: [Message] = []
        while let event = try t.receive(timeout: .seconds(1)) {
            guard case .message(let peer, let m, let bytes, _) = event else { Issue.record("malformed"); continue }
            #expect(peer == a)
            #expect(bytes == WireCodec.encodedSize(m))
            answers.append(m)
        }
        #expect(answers == [
            .update(UpdateMessage(round: 3, clientIndex: 1, token: 7, samples: 10, metrics: [:], delta: [1])),
            .update(UpdateMessage(round: 3, clientIndex: 2, token: 7, samples: 10, metrics: [:], delta: [2])),
            .bye(ByeMessage(clients: [1, 2])),
        ])
        #expect(t.sent.map { $0.message.kind } == [.model, .train, .shutdown])
        // An unreachable peer's messages are not answered either.
        t.unreachable = [b]
        #expect(throws: ZmqError.peerUnreachable(b)) { try t.send(.shutdown(ShutdownMessage(reason: "x")), to: b) }
        #expect(t.inbox.isEmpty)
    }

    static let pa = PeerID(bytes: Array("a".utf8))

    @Test func systemClockIsMonotonic() {
        let clock = SystemSecondsClock()
        let first = clock.now
        let second = clock.now
        #expect(first >= 0 && second >= first)
    }
}
