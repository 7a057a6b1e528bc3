import AviaryMath
import AviaryProtocol
import AviaryTransport
import Foundation
import Synchronization

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
        do { _ = try WireCodec.decode(frame) } catch { return (lines + ["codec decode: \(error)"]).joined(separator: "\n") }
        let decodeTime = best(of: 10) { _ = try? WireCodec.decode(frame) }  // decodes: checked above
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
            if endpoint.hasPrefix("ipc://") {
                let path = String(endpoint.dropFirst("ipc://".count))
                if unlink(path) != 0 && errno != ENOENT { lines.append("warning: could not remove \(path): \(String(cString: strerror(errno)))") }
            }
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
            let clock = ContinuousClock()
            let start = clock.now
            let sender = SenderThread {
                let client = try ClientEndpoint(connect: bound, identity: "bench", context: ZmqContext(), curve: clientCurve)
                defer { client.close() }
                for _ in 0..<messages { try client.send(update) }
                // Wait for the server's ack before closing.
                return try client.receive(timeout: .seconds(30)) == nil ? "no acknowledgement" : nil
            }
            var received = 0
            while received < messages, let event = try server.receive(timeout: .seconds(30)) {
                guard case .message(let peer, .update, _, _) = event else { return "\(label): unexpected \(event)" }
                received += 1
                if received == messages { try server.send(.heartbeat, to: peer) }
            }
            let elapsed = clock.now - start
            if let failed = sender.join() { return "\(label): client: \(failed)" }
            guard received == messages else { return "\(label): only \(received)/\(messages) arrived" }
            return figure(label, bytes * messages, elapsed) + " (\(messages) messages)"
        } catch {
            return "\(label): \(error)"
        }
    }

    /// The floor on this machine right now: the same bytes through bare sockets, no codec
    /// (AviaryTransport's raw link: the same checked socket wrapper, nothing on top).
    private static func rawStreaming(_ endpoint: String, _ frame: [UInt8], messages: Int) -> String {
        let label = "raw libzmq stream " + (endpoint.hasPrefix("tcp") ? "tcp" : "ipc")
        do {
            // Separate contexts, as in separate processes: each side gets its own I/O thread.
            let server = try RawFrameReceiver(bind: endpoint, context: ZmqContext())
            defer { server.close() }
            let bound = server.boundEndpoint
            let clock = ContinuousClock()
            let start = clock.now
            let sender = SenderThread {
                let client = try RawFrameSender(connect: bound, context: ZmqContext())
                defer { client.close() }
                for _ in 0..<messages { try client.send(frame) }
                // Wait for the server's ack before closing.
                return try client.waitForAcknowledgement(timeout: .seconds(30)) ? nil : "no acknowledgement"
            }
            let (received, peer) = try server.receive(count: messages, timeout: .seconds(30))
            let elapsed = clock.now - start
            if let peer { try server.acknowledge(peer) }
            if let failed = sender.join() { return "\(label): client: \(failed)" }
            guard received == messages else { return "\(label): only \(received)/\(messages) arrived" }
            return figure(label, frame.count * messages, elapsed) + " (\(messages) messages)"
        } catch {
            return "\(label): \(error)"
        }
    }

    /// The sending side of a streaming measurement, on its own thread as another process would
    /// be; `send` returns why it failed, or nil.
    private final class SenderThread: Sendable {
        private let finished = DispatchSemaphore(value: 0)
        private let failure = Mutex<String?>(nil)

        init(_ send: @escaping @Sendable () throws -> String?) {
            Thread { [self] in
                defer { finished.signal() }
                do {
                    if let why = try send() { failure.withLock { $0 = why } }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                }
            }.start()
        }

        /// Waits (at most 30 s) for the sender; its failure, if any.
        func join() -> String? {
            _ = finished.wait(timeout: .now() + 30)
            return failure.withLock { $0 }
        }
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
