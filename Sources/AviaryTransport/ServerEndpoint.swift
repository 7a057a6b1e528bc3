import AviaryProtocol
import CZmq
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the server's socket loop gets from `ServerEndpoint.receive(timeout:)`.
public enum ServerEvent: Sendable {
    /// A well-formed message from a peer (semantic checks are the server's job), its size, and
    /// the CURVE public key (Z85) the server's ZAP handler authenticated the connection with
    /// (nil without CURVE).
    case message(PeerID, Message, bytes: Int, clientKey: String? = nil)
    /// A peer sent bytes that are not a valid frame; the endpoint keeps serving.
    case malformed(PeerID, CodecError, bytes: Int)

    /// The connection the event came from.
    public var peer: PeerID {
        switch self { case let .message(p, _, _, _), let .malformed(p, _, _): p }
    }
}

/// What the server loop needs from its socket: receive with a timeout, send to one peer, close
/// with a bounded flush. `ServerEndpoint` is the ZeroMQ one; `InMemoryServerTransport` is its
/// twin for tests that drive a whole server without sockets (as swift-nio's EmbeddedChannel).
public protocol ServerTransport: AnyObject {
    /// Where clients connect, e.g. "tcp://127.0.0.1:41237".
    var boundEndpoint: String { get }
    /// The next event, or nil if none arrived within `timeout`.
    func receive(timeout: Duration) throws(ZmqError) -> ServerEvent?
    /// Sends `m` to `peer` and returns the bytes sent, never waiting: `.peerUnreachable` if it
    /// is gone, `.peerNotReading` if the queue towards it is full.
    func send(_ m: Message, to peer: PeerID) throws(ZmqError) -> Int
    /// Sends a message encoded once (the round's MODEL) to `peer`; returns the bytes sent.
    func send(_ encoded: EncodedMessage, to peer: PeerID) throws(ZmqError) -> Int
    /// Lets queued frames leave for at most `flushingFor`, then releases the socket.
    func close(flushingFor: Duration)
    /// CURVE handshakes refused since the last call (keys not on the allow-list).
    func takeRefusedHandshakes() -> [RefusedHandshake]
    /// Handshakes that failed since the last call because the peer spoke another security
    /// mechanism, or closed before saying which.
    func takeHandshakeFailures() -> HandshakeFailures
}

/// Failed handshakes of the server's socket, as its monitor reports them.
public struct HandshakeFailures: Sendable, Equatable {
    /// The peer's greeting named another security mechanism (a plaintext client at a CURVE
    /// server, or the reverse): certain.
    public var mismatched: Int
    /// The peer closed mid-handshake before its mechanism arrived: what a client of the other
    /// mechanism usually does (it reads the server's greeting first and leaves), or a port probe.
    public var closedEarly: Int
    public init(mismatched: Int = 0, closedEarly: Int = 0) { self.mismatched = mismatched; self.closedEarly = closedEarly }
    public var isEmpty: Bool { mismatched == 0 && closedEarly == 0 }
}

extension ServerTransport {
    public func takeRefusedHandshakes() -> [RefusedHandshake] { [] }
    public func takeHandshakeFailures() -> HandshakeFailures { HandshakeFailures() }
}

/// The server's ROUTER socket: binds, receives (peer, message) pairs, sends to one peer.
///
/// Threading: call it from ONE dedicated `Thread` (the server's socket loop), never from a
/// Swift-concurrency task — `receive` blocks in `zmq_poll` for up to its timeout. It may be
/// created on one thread and handed to another before use.
public final class ServerEndpoint: ServerTransport, Sendable {
    private let socket: ZmqSocket
    private let context: ZmqContext
    /// Only a context this endpoint made is terminated by `close(flushingFor:)`.
    private let ownsContext: Bool
    /// The address actually bound (ZMQ_LAST_ENDPOINT), e.g. "tcp://127.0.0.1:41237" for port 0.
    public let boundEndpoint: String
    /// Frames larger than this are refused by libzmq, which disconnects the sender.
    public let maxMessageBytes: Int
    private let limits: CodecLimits
    /// Answers CURVE handshakes (nil in plaintext).
    private let zap: ZapHandler?
    /// True when every connection is CURVE-encrypted and authenticated.
    public var isCurve: Bool { zap != nil }
    /// Handshake failures of the ROUTER: libzmq drops a peer of another mechanism silently.
    private let monitor: SocketMonitor

    /// Binds a ROUTER to `endpoint` ("tcp://127.0.0.1:5555", "tcp://*:0", "ipc:///tmp/x").
    /// `maxMessageBytes` sets ZMQ_MAXMSGSIZE so a bad peer cannot make the server allocate GBs.
    public init(bind endpoint: String, maxMessageBytes: Int,
                options: TransportOptions = TransportOptions(),
                limits: CodecLimits = .default,
                context: ZmqContext? = nil,
                security: ServerSecurity = .plaintext) throws(ZmqError) {
        // Its own context by default, so closing the endpoint can terminate it and so flush
        // the last frames (SHUTDOWN) before the process exits.
        let ctx: ZmqContext
        if let context { ctx = context } else { ctx = try ZmqContext() }
        let socket = try ZmqSocket(context: ctx, type: ZMQ_ROUTER)
        try socket.applyCommon(options)
        try socket.setOption(ZMQ_MAXMSGSIZE, Int64(maxMessageBytes), name: "ZMQ_MAXMSGSIZE")
        try socket.setOption(ZMQ_ROUTER_MANDATORY, Int32(1), name: "ZMQ_ROUTER_MANDATORY")
        try socket.setOption(ZMQ_SNDHWM, options.peerQueueMessages, name: "ZMQ_SNDHWM")
        if case let .curve(keys, allowList) = security {
            try CurveKeyPair.requireAvailable()
            guard CurveKeyPair.isZ85Key(keys.secretKey) else { throw .invalidCurveKey(role: "server secret key") }
            // The handler must be bound before the first handshake, so before the ROUTER binds.
            zap = try ZapHandler(context: ctx, allowed: allowList.keys)
            try socket.setOption(ZMQ_CURVE_SERVER, Int32(1), name: "ZMQ_CURVE_SERVER")
            try socket.setOption(ZMQ_CURVE_SECRETKEY, Array(keys.secretKey.utf8), name: "ZMQ_CURVE_SECRETKEY")
            try socket.setOption(ZMQ_ZAP_DOMAIN, Array("aviary".utf8), name: "ZMQ_ZAP_DOMAIN")
        } else {
            zap = nil
        }
        monitor = try SocketMonitor(watching: socket, context: ctx,
                                    events: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, role: "server")
        try socket.bind(endpoint)
        self.socket = socket
        self.context = ctx
        self.ownsContext = context == nil
        self.boundEndpoint = try socket.lastEndpoint()
        self.maxMessageBytes = maxMessageBytes
        self.limits = limits
    }

    /// The next event, or nil if none arrived within `timeout` (polls; never blocks longer).
    public func receive(timeout: Duration) throws(ZmqError) -> ServerEvent? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            try zap?.serveQueued()
            if let event = try receiveQueued() { return event }
            let left = deadline - clock.now
            if let zap {
                // Handshakes wait for the ZAP answer: serve it whenever it asks, even mid-wait.
                let ready = left > .zero ? try socket.waitReadable(alsoWatching: zap.socket, timeout: left) : (mine: false, other: false)
                guard ready.mine || ready.other else {
                    try zap.serveQueued()
                    return try receiveQueued()
                }
            } else {
                guard left > .zero, try socket.waitReadable(timeout: left) else { return try receiveQueued() }
            }
        }
    }

    /// CURVE handshakes refused since the last call.
    public func takeRefusedHandshakes() -> [RefusedHandshake] { zap?.takeRefused() ?? [] }

    public func takeHandshakeFailures() -> HandshakeFailures {
        let events = (try? monitor.take()) ?? []
        return HandshakeFailures(mismatched: events.filter(\.isMechanismMismatch).count,
                                 closedEarly: events.filter(\.isClosedMidHandshake).count)
    }

    /// One queued ROUTER message: [identity][payload], decoded straight from libzmq's buffer.
    private func receiveQueued() throws(ZmqError) -> ServerEvent? {
        guard let (identity, more) = try socket.receiveFrame({ (Array($0), $1) }) else { return nil }
        let peer = PeerID(bytes: identity)
        guard more else { return .malformed(peer, .unexpectedFrames(count: 0), bytes: 0) }
        let limits = self.limits
        let decoded: (Result<Message, CodecError>, Bool, Int, String?)? = try socket.receiveFrameWithUserId { bytes, more, userId in
            do throws(CodecError) { return (.success(try WireCodec.decode(bytes, limits: limits)), more, bytes.count, userId) }
            catch { return (.failure(error), more, bytes.count, userId) }
        }
        // Parts of one ZeroMQ message arrive together, so the payload is already queued.
        guard let (result, hasMore, size, userId) = decoded else { return .malformed(peer, .unexpectedFrames(count: 0), bytes: 0) }
        if hasMore { return .malformed(peer, .unexpectedFrames(count: 1 + (try drainFrames())), bytes: size) }
        switch result {
        case .success(let m): return .message(peer, m, bytes: size, clientKey: userId)
        case .failure(let e): return .malformed(peer, e, bytes: size)
        }
    }

    /// Discards the rest of a multipart message; returns how many frames it dropped.
    private func drainFrames() throws(ZmqError) -> Int {
        var dropped = 0
        while let more = try socket.receiveFrame({ $1 }) {
            dropped += 1
            if !more { break }
        }
        return dropped
    }

    /// Sends `m` to `peer` without ever waiting: `.peerUnreachable` if that peer is not
    /// connected (ZMQ_ROUTER_MANDATORY), `.peerNotReading` if its queue is full (ZMQ_SNDHWM).
    /// One peer that never reads must not stall the loop that serves all the others.
    @discardableResult
    public func send(_ m: Message, to peer: PeerID) throws(ZmqError) -> Int {
        try sendIdentity(peer)
        let size = WireCodec.encodedSize(m)
        try socket.sendFrame(size: size, more: false, dontWait: true) { WireCodec.encode(m, into: $0) }
        return size
    }

    /// Sends a message encoded once (e.g. the round's MODEL) to `peer` without copying it.
    @discardableResult
    public func send(_ encoded: EncodedMessage, to peer: PeerID) throws(ZmqError) -> Int {
        try sendIdentity(peer)
        try socket.send(sharing: encoded, more: false, dontWait: true)
        return encoded.count
    }

    /// The ROUTER's routing frame; with ZMQ_ROUTER_MANDATORY an unknown peer fails here, and so
    /// does a peer whose queue is full (EAGAIN: libzmq checks the high-water mark on this
    /// frame, so the payload is never half-sent).
    private func sendIdentity(_ peer: PeerID) throws(ZmqError) {
        do {
            try socket.send(peer.bytes, more: true, dontWait: true)
        } catch .callFailed(_, let code, _) where code == EHOSTUNREACH {
            throw .peerUnreachable(peer)
        } catch .queueFull {
            throw .peerNotReading(peer)
        }
    }

    /// Closes the socket; queued frames get ZMQ_LINGER to leave. Idempotent.
    public func close() { socket.close(); zap?.close(); monitor.close() }

    /// Closes the socket and, when the endpoint made its context, terminates it: returns once
    /// queued frames have left or `flushingFor` has passed (ZMQ_LINGER), never later.
    public func close(flushingFor: Duration) {
        try? socket.setOption(ZMQ_LINGER, Int32(clamping: flushingFor.roundedUpMilliseconds), name: "ZMQ_LINGER")
        socket.close()
        zap?.close()
        monitor.close()
        if ownsContext { context.terminate() }
    }
}
