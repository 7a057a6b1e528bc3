import AviaryProtocol
import AviaryTransport
import CZmq
import Testing

/// Hostile or absent peers: the server reports, drops or times out, and keeps serving.
@Suite(.serialized) struct EndpointRobustnessTests {
    /// A raw libzmq DEALER, bypassing ClientEndpoint, to send bytes Aviary never would.
    final class RawDealer {
        let context: UnsafeMutableRawPointer
        let socket: UnsafeMutableRawPointer
        init(connect endpoint: String) throws {
            context = try #require(zmq_ctx_new())
            socket = try #require(zmq_socket(context, ZMQ_DEALER))
            #expect(zmq_connect(socket, endpoint) == 0)
        }
        func send(_ frames: [[UInt8]]) {
            for (i, f) in frames.enumerated() {
                let rc = f.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, i < frames.count - 1 ? ZMQ_SNDMORE : 0) }
                #expect(rc == Int32(f.count))
            }
        }
        deinit {
            var linger: Int32 = 0
            zmq_setsockopt(socket, ZMQ_LINGER, &linger, 4)
            zmq_close(socket)
            zmq_ctx_term(context)
        }
    }

    @Test func garbageIsReportedAndTheServerKeepsServing() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let raw = try RawDealer(connect: server.boundEndpoint)
        let heartbeat = WireCodec.encode(.heartbeat)
        raw.send([Array("garbage!".utf8)])
        raw.send([[]])
        raw.send([heartbeat, [1, 2], [3]])
        var corrupted = WireCodec.encode(.bye(ByeMessage(clients: [1])))
        corrupted[9] ^= 0xFF
        raw.send([corrupted])
        raw.send([heartbeat])

        var errors: [CodecError] = []
        var errorBytes: [Int] = []
        var messages: [Message] = []
        var peers: Set<PeerID> = []
        while messages.isEmpty, let event = try server.receive(timeout: .seconds(10)) {
            peers.insert(event.peer)
            switch event {
            case .malformed(_, let e, let bytes): errors.append(e); errorBytes.append(bytes)
            case .message(_, let m, let bytes, _): messages.append(m); #expect(bytes == 12)
            }
        }
        #expect(peers.count == 1, "every event names the one raw connection")
        // The size of the (first) payload frame, whatever was wrong with it.
        #expect(errorBytes == [8, 0, heartbeat.count, corrupted.count])
        #expect(errors.count == 4)
        #expect(errors.first == .badMagic(found: Array("garb".utf8)))
        #expect(errors.dropFirst().first == .truncated(field: "header.magic", offset: 0, needed: 4, available: 0))
        #expect(errors.dropFirst(2).first == .unexpectedFrames(count: 3))
        if case .crcMismatch? = errors.dropFirst(3).first {} else { Issue.record("expected CRC mismatch, got \(errors)") }
        #expect(messages == [.heartbeat])
    }

    @Test func oversizeMessageIsDroppedAndTheServerSurvives() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let worker = Worker {
            guard let big = try? ClientEndpoint(connect: endpoint, identity: "big"),
                  let small = try? ClientEndpoint(connect: endpoint, identity: "small") else { return }
            // 2 MiB of floats, twice the limit: libzmq drops the frame and disconnects "big".
            _ = try? big.send(.update(UpdateMessage(round: 1, clientIndex: 0, samples: 1, metrics: [:],
                                                delta: [Float](repeating: 1, count: 512 * 1024))))
            _ = try? small.send(.heartbeat)
            _ = try? small.receive(timeout: .seconds(10))  // hold the connection until the server answers
            big.close(); small.close()
        }
        // Wait (bounded) for the small client's heartbeat, then keep listening a little so a
        // wrongly accepted big UPDATE would show up too. Kinds only: a failure must not print 2 MiB.
        let small = PeerID(bytes: Array("small".utf8))
        var seen: [String] = []
        var quietAfter: Duration = .seconds(15)
        while let event = try server.receive(timeout: quietAfter) {
            guard case .message(let peer, let m, _, _) = event else { Issue.record("unexpected \(event)"); continue }
            seen.append("\(peer):\(m.kind)")
            if peer == small { quietAfter = .seconds(1) }
        }
        #expect(seen == ["small:heartbeat"])
        try server.send(.shutdown(ShutdownMessage(reason: "bye")), to: small)
        #expect(worker.join())
    }

    @Test func receiveTimesOutWithNil() throws {
        let clock = ContinuousClock()
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let start = clock.now
        #expect(try server.receive(timeout: .milliseconds(150)) == nil)
        let waited = clock.now - start
        // Bounds, not speed: it must wait for the timeout and must not hang.
        #expect(waited >= .milliseconds(140) && waited < .seconds(5), "waited \(waited)")

        let client = try ClientEndpoint(connect: server.boundEndpoint, identity: "quiet")
        defer { client.close() }
        let start2 = clock.now
        #expect(try client.receive(timeout: .milliseconds(150)) == nil)
        #expect(clock.now - start2 < .seconds(5))
        #expect(try server.receive(timeout: .zero) == nil)
    }

    @Test func sendingToAnUnknownPeerFails() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { server.close() }
        let nobody = PeerID(bytes: Array("nobody".utf8))
        #expect(throws: ZmqError.peerUnreachable(nobody)) { try server.send(.heartbeat, to: nobody) }
    }

    @Test func setupErrorsAreTypedAndHelpful() throws {
        do {
            _ = try ServerEndpoint(bind: "tcp://not an endpoint", maxMessageBytes: 1 << 20)
            Issue.record("bind should fail")
        } catch {
            guard case .callFailed(let call, _, let text) = error else { Issue.record("got \(error)"); return }
            #expect(call.hasPrefix("zmq_bind"))
            #expect(!text.isEmpty)
            #expect(error.description.contains("zmq_bind"))
        }
        let first = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        defer { first.close() }
        #expect(throws: ZmqError.self) { try ServerEndpoint(bind: first.boundEndpoint, maxMessageBytes: 1 << 20) }
        #expect(throws: ZmqError.invalidIdentity("")) { try ClientEndpoint(connect: first.boundEndpoint, identity: "") }
        let tooLong = String(repeating: "x", count: 256)
        #expect(throws: ZmqError.invalidIdentity(tooLong)) { try ClientEndpoint(connect: first.boundEndpoint, identity: tooLong) }
    }

    @Test func closedEndpointsRefuseToWork() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        let client = try ClientEndpoint(connect: server.boundEndpoint, identity: "c")
        client.close()
        client.close()  // idempotent
        #expect(throws: ZmqError.socketClosed(call: "zmq_msg_send")) { try client.send(.heartbeat) }
        client.close(flushingFor: .zero)  // after close(): still safe, terminates the context once
        server.close(flushingFor: .zero)
        server.close(flushingFor: .zero)  // idempotent, context terminated once
        server.close()
        #expect(throws: ZmqError.socketClosed(call: "zmq_msg_recv")) { try server.receive(timeout: .milliseconds(10)) }
        #expect(throws: ZmqError.socketClosed(call: "zmq_msg_send")) { try server.send(.heartbeat, to: PeerID(bytes: [1])) }
    }
}
