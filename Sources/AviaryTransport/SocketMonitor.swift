import CZmq
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A socket's handshake events (zmq_socket_monitor) on an inproc PAIR, read without blocking.
/// It is how an endpoint learns what libzmq otherwise keeps to itself: a CURVE key the server
/// refused, or a peer that speaks another security mechanism (a plaintext client at a CURVE
/// server, or the reverse), which libzmq answers only by dropping the connection.
/// `@unchecked Sendable` as `ZmqSocket`: it lives inside its endpoint and is used by that
/// endpoint's one thread.
final class SocketMonitor: @unchecked Sendable {
    struct Event: Equatable {
        /// ZMQ_EVENT_*.
        var kind: Int32
        /// The event's value: a ZAP status, or a ZMQ_PROTOCOL_ERROR_* code.
        var value: UInt32
        var isMechanismMismatch: Bool {
            kind == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        }
        /// The peer closed (EPIPE) or reset (ECONNRESET) the connection mid-handshake, before
        /// libzmq had read its security mechanism. Each side sends its mechanism once it has the
        /// other's version byte; a client that receives the server's version and mechanism in
        /// one read finds the mismatch and closes before its own mechanism leaves (libzmq drops
        /// the queued greeting), so the server sees only this, not a mismatch. Under load that is
        /// most attempts; a port probe looks the same.
        var isClosedMidHandshake: Bool {
            kind == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && (value == UInt32(EPIPE) || value == UInt32(ECONNRESET))
        }
    }

    let socket: ZmqSocket
    private static let counter = Atomic<Int>(0)

    init(watching watched: ZmqSocket, context: ZmqContext, events: Int32, role: String) throws(ZmqError) {
        let address = "inproc://aviary-\(role)-monitor-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        try watched.monitor(address, events: events)
        let pair = try ZmqSocket(context: context, type: ZMQ_PAIR)
        try pair.setOption(ZMQ_LINGER, Int32(0), name: "ZMQ_LINGER")
        try pair.connect(address)
        socket = pair
    }

    /// The events queued so far. Each is two frames: u16 event and u32 value, then the endpoint.
    func take() throws(ZmqError) -> [Event] {
        var events: [Event] = []
        while let (event, more) = try socket.receiveFrame({ bytes, more -> (Event?, Bool) in
            guard bytes.count >= 6 else { return (nil, more) }
            return (Event(kind: Int32(bytes.loadUnaligned(as: UInt16.self)), value: bytes.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), more)
        }) {
            var hasMore = more
            while hasMore, let next = try socket.receiveFrame({ $1 }) { hasMore = next }
            if let event { events.append(event) }
        }
        return events
    }

    func close() { socket.close() }
}
