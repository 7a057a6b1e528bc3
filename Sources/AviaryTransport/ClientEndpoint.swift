import AviaryProtocol
import CZmq

/// A client's DEALER socket: connects to the server, sends and receives whole messages.
///
/// Threading: use it from ONE dedicated `Thread` (the client's socket loop), never from a
/// Swift-concurrency task — `receive` blocks in `zmq_poll` for up to its timeout.
public final class ClientEndpoint: Sendable {
    private let socket: ZmqSocket
    private let context: ZmqContext
    private let ownsContext: Bool
    private let limits: CodecLimits

    /// Connects a DEALER to `endpoint`. `identity` becomes the server-visible `PeerID`
    /// (ZMQ_ROUTING_ID; 1–255 bytes, not starting with NUL); nil (what Aviary's clients use)
    /// lets the server's ROUTER pick a fresh one per connection, so a connection is never
    /// mistaken for another: clients prove who they are with session tokens instead.
    /// Connecting is asynchronous: messages sent before the TCP link is up are queued.
    public init(connect endpoint: String, identity: String? = nil,
                maxMessageBytes: Int = -1,
                options: TransportOptions = TransportOptions(),
                limits: CodecLimits = .default,
                context: ZmqContext? = nil) throws(ZmqError) {
        let ctx: ZmqContext
        if let context { ctx = context } else { ctx = try ZmqContext() }
        let socket = try ZmqSocket(context: ctx, type: ZMQ_DEALER)
        try socket.applyCommon(options)
        try socket.setOption(ZMQ_MAXMSGSIZE, Int64(maxMessageBytes), name: "ZMQ_MAXMSGSIZE")
        try socket.setOption(ZMQ_RECONNECT_IVL_MAX, options.reconnectIntervalMaxMilliseconds, name: "ZMQ_RECONNECT_IVL_MAX")
        if let identity {
            let bytes = Array(identity.utf8)
            guard (1...255).contains(bytes.count), bytes[0] != 0 else { throw .invalidIdentity(identity) }
            try socket.setOption(ZMQ_ROUTING_ID, bytes, name: "ZMQ_ROUTING_ID")
        }
        try socket.connect(endpoint)
        self.socket = socket
        self.context = ctx
        self.ownsContext = context == nil
        self.limits = limits
    }

    /// The next message (or why its bytes were rejected), or nil if none arrived within `timeout`.
    public func receive(timeout: Duration) throws(ZmqError) -> Result<Message, CodecError>? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let r = try receiveQueued() { return r }
            let left = deadline - clock.now
            guard left > .zero, try socket.waitReadable(timeout: left) else { return try receiveQueued() }
        }
    }

    private func receiveQueued() throws(ZmqError) -> Result<Message, CodecError>? {
        let limits = self.limits
        let got: (Result<Message, CodecError>, Bool)? = try socket.receiveFrame { bytes, more in
            do throws(CodecError) { return (.success(try WireCodec.decode(bytes, limits: limits)), more) }
            catch { return (.failure(error), more) }
        }
        guard let (result, more) = got else { return nil }
        guard more else { return result }
        var frames = 1
        while let more = try socket.receiveFrame({ $1 }) {
            frames += 1
            if !more { break }
        }
        return .failure(.unexpectedFrames(count: frames))
    }

    /// Sends `m`, encoded straight into the outgoing ZeroMQ frame.
    @discardableResult
    public func send(_ m: Message) throws(ZmqError) -> Int {
        let size = WireCodec.encodedSize(m)
        try socket.sendFrame(size: size, more: false) { WireCodec.encode(m, into: $0) }
        return size
    }

    /// Closes the socket; queued frames get ZMQ_LINGER to leave. Idempotent.
    public func close() { socket.close() }

    /// Closes the socket and, when the endpoint made its context, terminates it: returns once
    /// queued frames (the BYE) have left or `flushingFor` has passed, never later.
    public func close(flushingFor: Duration) {
        try? socket.setOption(ZMQ_LINGER, Int32(clamping: flushingFor.roundedUpMilliseconds), name: "ZMQ_LINGER")
        socket.close()
        if ownsContext { context.terminate() }
    }
}
