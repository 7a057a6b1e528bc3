import CZmq

/// Opaque frames from a DEALER to a ROUTER: no codec, no message kinds, no CURVE. What
/// `aviary bench` measures the endpoints against, so the floor libzmq reaches on this machine
/// comes through the same checked socket wrapper (every libzmq return code becomes a
/// `ZmqError`) instead of bare C calls in the benchmark.
///
/// Threading: each side belongs to one thread, like the endpoints.
public final class RawFrameReceiver: Sendable {
    private let socket: ZmqSocket
    /// The address actually bound (port 0 resolved).
    public let boundEndpoint: String

    public init(bind endpoint: String, context: ZmqContext) throws(ZmqError) {
        socket = try ZmqSocket(context: context, type: ZMQ_ROUTER)
        try socket.setOption(ZMQ_LINGER, Int32(500), name: "ZMQ_LINGER")
        try socket.bind(endpoint)
        boundEndpoint = try socket.lastEndpoint()
    }

    /// Receives single-frame messages until `count` arrived or none arrived for `timeout`.
    /// Returns how many arrived and the routing id of their sender (for `acknowledge`).
    public func receive(count: Int, timeout: Duration) throws(ZmqError) -> (received: Int, sender: [UInt8]?) {
        var received = 0
        var sender: [UInt8]?
        while received < count {
            // A ROUTER delivers the sender's routing id, then the payload frame.
            guard let identity = try socket.receiveFrame({ bytes, _ in Array(bytes) }) else {
                guard try socket.waitReadable(timeout: timeout) else { break }
                continue
            }
            while try socket.receiveFrame({ $1 }) == nil {  // the payload follows at once
                guard try socket.waitReadable(timeout: timeout) else { return (received, sender) }
            }
            sender = identity
            received += 1
        }
        return (received, sender)
    }

    /// One byte back to `sender`, so it knows everything arrived before it closes.
    public func acknowledge(_ sender: [UInt8]) throws(ZmqError) {
        try socket.send(sender, more: true)
        try socket.send([0], more: false)
    }

    public func close() { socket.close() }
}

/// The sending side of a raw link (see `RawFrameReceiver`).
public final class RawFrameSender: Sendable {
    private let socket: ZmqSocket

    public init(connect endpoint: String, context: ZmqContext) throws(ZmqError) {
        socket = try ZmqSocket(context: context, type: ZMQ_DEALER)
        try socket.setOption(ZMQ_LINGER, Int32(500), name: "ZMQ_LINGER")
        try socket.connect(endpoint)
    }

    public func send(_ frame: [UInt8]) throws(ZmqError) {
        try socket.send(frame, more: false)
    }

    /// True when the receiver's acknowledgement arrived within `timeout`.
    public func waitForAcknowledgement(timeout: Duration) throws(ZmqError) -> Bool {
        if try socket.receiveFrame({ $1 }) != nil { return true }
        guard try socket.waitReadable(timeout: timeout) else { return false }
        return try socket.receiveFrame({ $1 }) != nil
    }

    public func close() { socket.close() }
}
