import AviaryProtocol
import AviaryTransport
import CZmq
import Testing

/// A peer that connects and never reads: the server's sends to it must never wait. Once its
/// queue (ZMQ_SNDHWM) and the kernel's buffers are full, a send fails at once with
/// `.peerNotReading` instead of blocking for ZMQ_SNDTIMEO (10 s) per message.
@Suite(.serialized) struct SlowPeerTests {
    @Test func aPeerThatNeverReadsFailsFastInsteadOfBlocking() throws {
        let server = try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                        options: TransportOptions(peerQueueMessages: 10))
        defer { server.close() }
        // A raw DEALER that keeps one message at most on its side and never calls recv.
        let context = try #require(zmq_ctx_new())
        defer { zmq_ctx_term(context) }
        let dealer = try #require(zmq_socket(context, ZMQ_DEALER))
        var one: Int32 = 1, zero: Int32 = 0
        zmq_setsockopt(dealer, ZMQ_RCVHWM, &one, 4)
        zmq_setsockopt(dealer, ZMQ_LINGER, &zero, 4)
        defer { zmq_close(dealer) }
        #expect(zmq_connect(dealer, server.boundEndpoint) == 0)
        let hello = WireCodec.encode(.heartbeat)
        #expect(hello.withUnsafeBytes { zmq_send(dealer, $0.baseAddress, $0.count, 0) } == Int32(hello.count))
        let peer = try #require(try server.receive(timeout: .seconds(10))?.peer)

        // 256 KiB per MODEL, shared (the bytes are not copied per send): the kernel's buffers
        // fill after a few dozen, then the 10-message queue.
        let model = EncodedMessage(.model(ModelMessage(round: 1, parameters: [Float](repeating: 1, count: 64 << 10))))
        let clock = ContinuousClock()
        var slowest: Duration = .zero
        var sent = 0
        var refused: ZmqError?
        let started = clock.now
        while refused == nil && sent < 100_000 && clock.now - started < .seconds(60) {
            let t = clock.now
            do { _ = try server.send(model, to: peer); sent += 1 } catch { refused = error }
            slowest = max(slowest, clock.now - t)
        }
        #expect(refused == .peerNotReading(peer), "after \(sent) sends: \(String(describing: refused))")
        // Bounds, not speed: a send that waited on the peer would take the 10 s send timeout.
        #expect(slowest < .seconds(2), "the slowest send took \(slowest)")
        // The queue stays full: the next send fails at once too, and the server keeps serving.
        #expect(throws: ZmqError.peerNotReading(peer)) { try server.send(.heartbeat, to: peer) }
        #expect(try server.receive(timeout: .milliseconds(10)) == nil)
    }
}
