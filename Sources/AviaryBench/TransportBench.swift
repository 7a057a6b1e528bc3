import AviaryMath
import AviaryProtocol
import AviaryTransport
import CZmq
import Foundation

/// Measures the wire path for one full-size UPDATE (1.66M floats ≈ 6.6 MB): codec alone, then
/// encode + send + receive + decode over loopback, next to bare libzmq sockets carrying the same
/// bytes in the same run (the floor the transport can reach on this machine).
public enum TransportBench {
    /// Runs every measurement and returns a human-readable report (one line per figure).
    public static func run(floats: Int = 1_660_000, messages: Int = 40) -> String {
        let delta = (0..<floats).map { Float($0 % 1013) * 1e-4 }
        let update = Message.update(UpdateMessage(round: 1, clientIndex: 0, samples: 6000,
                                           metrics: ["train_loss": 0.3, "samples": 6000], delta: delta))
        let bytes = WireCodec.encodedSize(update)
        var lines = ["payload: \(floats) floats, \(bytes) bytes per UPDATE frame"]

        let encodeTime = best(of: 10) { _ = WireCodec.encode(update) }
        lines.append(figure("codec encode", bytes, encodeTime))
        let frame = WireCodec.encode(update)
        let decodeTime = best(of: 10) { _ = try? WireCodec.decode(frame) }
        lines.append(figure("codec decode", bytes, decodeTime))
        let crcTime = best(of: 10) { _ = frame.withUnsafeBytes { CRC32.checksum($0) } }
        lines.append(figure("CRC-32 alone", bytes, crcTime))
        let finiteTime = best(of: 10) { _ = validateFinite(delta) }
        lines.append(figure("validateFinite", floats * 4, finiteTime))

        for endpoint in ["tcp://127.0.0.1:0", "ipc:///tmp/aviary-bench-\(getpid()).sock"] {
            lines.append(rawStreaming(endpoint, frame, messages: messages))
            lines.append(streaming(endpoint, update, bytes: bytes, messages: messages))
            if endpoint.hasPrefix("tcp"), CurveKeyPair.isAvailable {
                lines.append(streaming(endpoint, update, bytes: bytes, messages: messages, curve: true))
            }
            if endpoint.hasPrefix("ipc://") { unlink(String(endpoint.dropFirst("ipc://".count))) }
        }
        return lines.joined(separator: "\n")
    }

    /// One client streams `messages` UPDATEs; the server receives and decodes each.
    private static func streaming(_ endpoint: String, _ update: Message, bytes: Int, messages: Int, curve: Bool = false) -> String {
        let label = "send+recv+decode " + (endpoint.hasPrefix("tcp") ? "tcp" : "ipc") + (curve ? " CURVE" : "")
        do {
            let keys = curve ? (server: try CurveKeyPair.generate(), client: try CurveKeyPair.generate()) : nil
            let security: ServerSecurity = keys.map { .curve(server: $0.server, allowList: AllowList(bindings: [$0.client.publicKey: .any])) } ?? .plaintext
            let clientCurve = keys.map { ClientCurve(client: $0.client, serverPublicKey: $0.server.publicKey) }
            // Separate contexts, as in separate processes: each side gets its own I/O thread.
            let server = try ServerEndpoint(bind: endpoint, maxMessageBytes: 2 * bytes, context: ZmqContext(), security: security)
            defer { server.close() }
            let bound = server.boundEndpoint
            let finished = DispatchSemaphore(value: 0)
            let clock = ContinuousClock()
            let start = clock.now
            Thread {
                defer { finished.signal() }
                guard let client = try? ClientEndpoint(connect: bound, identity: "bench", context: ZmqContext(), curve: clientCurve) else { return }
                defer { client.close() }
                for _ in 0..<messages { _ = try? client.send(update) }
                _ = try? client.receive(timeout: .seconds(30))  // wait for the server's ack before closing
            }.start()
            var received = 0
            while received < messages, let event = try server.receive(timeout: .seconds(30)) {
                guard case .message(let peer, .update, _, _) = event else { return "\(label): unexpected \(event)" }
                received += 1
                if received == messages { try server.send(.heartbeat, to: peer) }
            }
            let elapsed = clock.now - start
            _ = finished.wait(timeout: .now() + 30)
            guard received == messages else { return "\(label): only \(received)/\(messages) arrived" }
            return figure(label, bytes * messages, elapsed) + " (\(messages) messages)"
        } catch {
            return "\(label): \(error)"
        }
    }

    /// The floor on this machine right now: the same bytes through bare libzmq sockets, no codec.
    /// Written against the C API directly: the transport's socket wrapper is internal to it.
    private static func rawStreaming(_ endpoint: String, _ frame: [UInt8], messages: Int) -> String {
        let label = "raw libzmq stream " + (endpoint.hasPrefix("tcp") ? "tcp" : "ipc")
        guard let serverContext = zmq_ctx_new(), let clientContext = zmq_ctx_new() else { return "\(label): zmq_ctx_new failed" }
        defer { zmq_ctx_term(serverContext); zmq_ctx_term(clientContext) }
        guard let server = zmq_socket(serverContext, ZMQ_ROUTER) else { return "\(label): zmq_socket failed" }
        var linger: Int32 = 500
        zmq_setsockopt(server, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_bind(server, endpoint) == 0 else { zmq_close(server); return "\(label): bind \(endpoint) failed" }
        var buffer = [CChar](repeating: 0, count: 256)
        var length = buffer.count
        zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, &buffer, &length)
        let bound = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let finished = DispatchSemaphore(value: 0)
        let clock = ContinuousClock()
        let start = clock.now
        nonisolated(unsafe) let context = clientContext
        Thread {
            defer { finished.signal() }
            guard let client = zmq_socket(context, ZMQ_DEALER) else { return }
            var linger: Int32 = 500
            zmq_setsockopt(client, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
            let identity = Array("bench".utf8)
            zmq_setsockopt(client, ZMQ_ROUTING_ID, identity, identity.count)
            guard zmq_connect(client, bound) == 0 else { zmq_close(client); return }
            for _ in 0..<messages { _ = frame.withUnsafeBytes { zmq_send(client, $0.baseAddress, $0.count, 0) } }
            var item = zmq_pollitem_t(socket: client, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            _ = zmq_poll(&item, 1, 30_000)  // wait for the server's ack before closing
            zmq_close(client)
        }.start()
        var frames = 0
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        var item = zmq_pollitem_t(socket: server, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        while frames < 2 * messages, zmq_poll(&item, 1, 30_000) > 0 {
            while zmq_msg_recv(&message, server, ZMQ_DONTWAIT) >= 0 { frames += 1 }
        }
        zmq_msg_close(&message)
        let elapsed = clock.now - start
        let identity = Array("bench".utf8)
        _ = identity.withUnsafeBytes { zmq_send(server, $0.baseAddress, $0.count, ZMQ_SNDMORE) }
        var ack: UInt8 = 0
        zmq_send(server, &ack, 1, 0)
        _ = finished.wait(timeout: .now() + 30)
        zmq_close(server)
        guard frames == 2 * messages else { return "\(label): only \(frames / 2)/\(messages) arrived" }
        return figure(label, frame.count * messages, elapsed) + " (\(messages) messages)"
    }

    private static func best(of runs: Int, _ body: () -> Void) -> Duration {
        let clock = ContinuousClock()
        var best = Duration.seconds(1_000)
        for _ in 0..<runs { best = min(best, clock.measure(body)) }
        return best
    }

    private static func figure(_ label: String, _ bytes: Int, _ time: Duration) -> String {
        let seconds = Double(time.components.seconds) + Double(time.components.attoseconds) * 1e-18
        let gbps = Double(bytes) / seconds / 1e9
        return "\(label): \(String(format: "%.2f", seconds * 1e3)) ms, \(String(format: "%.2f", gbps)) GB/s"
    }
}
