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
    private let endpoint: String
    /// This socket's handshake failures, so a refused key or a security mismatch (a plaintext
    /// client at a CURVE server, or the reverse) is an error at once instead of silence until
    /// the server timeout.
    private let monitor: SocketMonitor
    private let isCurve: Bool

    /// Connects a DEALER to `endpoint`. `identity` becomes the server-visible `PeerID`
    /// (ZMQ_ROUTING_ID; 1–255 bytes, not starting with NUL); nil (what Aviary's clients use)
    /// lets the server's ROUTER pick a fresh one per connection, so a connection is never
    /// mistaken for another: clients prove who they are with session tokens instead.
    /// Connecting is asynchronous: messages sent before the TCP link is up are queued.
    public init(connect endpoint: String, identity: String? = nil,
                maxMessageBytes: Int = -1,
                options: TransportOptions = TransportOptions(),
                limits: CodecLimits = .default,
                context: ZmqContext? = nil,
                curve: ClientCurve? = nil) throws(ZmqError) {
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
        if let curve {
            try CurveKeyPair.requireAvailable()
            for (key, role) in [(curve.serverPublicKey, "server public key"), (curve.client.publicKey, "client public key"),
                                (curve.client.secretKey, "client secret key")] where !CurveKeyPair.isZ85Key(key) {
                throw .invalidCurveKey(role: role)
            }
            try socket.setOption(ZMQ_CURVE_SERVERKEY, Array(curve.serverPublicKey.utf8), name: "ZMQ_CURVE_SERVERKEY")
            try socket.setOption(ZMQ_CURVE_PUBLICKEY, Array(curve.client.publicKey.utf8), name: "ZMQ_CURVE_PUBLICKEY")
            try socket.setOption(ZMQ_CURVE_SECRETKEY, Array(curve.client.secretKey.utf8), name: "ZMQ_CURVE_SECRETKEY")
        }
        monitor = try SocketMonitor(watching: socket, context: ctx,
                                    events: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, role: "client")
        isCurve = curve != nil
        try socket.connect(endpoint)
        self.endpoint = endpoint
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
            try checkMonitor()
            if let r = try receiveQueued() { return r }
            let left = deadline - clock.now
            let ready = left > .zero ? try socket.waitReadable(alsoWatching: monitor.socket, timeout: left) : (mine: false, other: false)
            guard ready.mine || ready.other else {
                try checkMonitor()
                return try receiveQueued()
            }
        }
    }

    /// Throws `.authenticationRefused` once the server refused this client's key, and
    /// `.securityMismatch` once the server turned out to speak another mechanism.
    private func checkMonitor() throws(ZmqError) {
        for event in try monitor.take() {
            if event.kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH {
                throw .authenticationRefused(endpoint: endpoint, status: Int(event.value))
            }
            if event.isMechanismMismatch { throw .securityMismatch(endpoint: endpoint, clientUsesCurve: isCurve) }
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
    public func close() { socket.close(); monitor.close() }

    /// Closes the socket and, when the endpoint made its context, terminates it: returns once
    /// queued frames (the BYE) have left or `flushingFor` has passed, never later.
    public func close(flushingFor: Duration) {
        try? socket.setOption(ZMQ_LINGER, Int32(clamping: flushingFor.roundedUpMilliseconds), name: "ZMQ_LINGER")
        socket.close()
        monitor.close()
        if ownsContext { context.terminate() }
    }
}
