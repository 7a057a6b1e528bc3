import CZmq

/// A CURVE handshake the server's ZAP handler refused: who tried, with which key.
public struct RefusedHandshake: Sendable, Hashable {
    /// The peer's address as libzmq reports it (an IP address for TCP).
    public var address: String
    /// The client's public key in Z85.
    public var key: String
    /// How many handshakes from this address with this key were refused.
    public var attempts: Int
    public init(address: String, key: String, attempts: Int = 1) {
        self.address = address; self.key = key; self.attempts = attempts
    }
}

/// The server's ZAP handler (RFC 27): a REP socket on `inproc://zeromq.zap.01` in the server's
/// own context. libzmq asks it about every CURVE handshake; it accepts only allow-listed public
/// keys and names the key as the connection's User-Id, which every message then carries.
///
/// It is served from the endpoint's own thread (`ServerEndpoint.receive` polls it beside the
/// ROUTER), never from a Swift-concurrency task. libzmq does not block its I/O thread while a
/// request waits, so a handshake simply completes at the loop's next poll.
/// `@unchecked Sendable` as `ZmqSocket`: it lives inside its endpoint and is used by that
/// endpoint's one thread.
final class ZapHandler: @unchecked Sendable {
    static let address = "inproc://zeromq.zap.01"
    let socket: ZmqSocket
    private let allowed: Set<String>
    /// Refusals since the last `takeRefused()` per (address, key); bounded so a flood of keys
    /// cannot grow it: past `maxRemembered` pairs they are summed under one entry.
    private var refused: [Pair: Int] = [:]
    private struct Pair: Hashable { var address: String; var key: String }
    static let maxRemembered = 1024

    init(context: ZmqContext, allowed: Set<String>) throws(ZmqError) {
        let socket = try ZmqSocket(context: context, type: ZMQ_REP)
        try socket.setOption(ZMQ_LINGER, Int32(0), name: "ZMQ_LINGER")
        try socket.bind(Self.address)
        self.socket = socket
        self.allowed = allowed
    }

    /// Answers every queued ZAP request without blocking.
    func serveQueued() throws(ZmqError) {
        while let request = try receiveRequest() {
            try answer(request)
        }
    }

    /// One request's frames: version, request id, domain, address, routing id, mechanism, credentials.
    private func receiveRequest() throws(ZmqError) -> [[UInt8]]? {
        guard let (first, more) = try socket.receiveFrame({ (Array($0), $1) }) else { return nil }
        var frames = [first]
        var hasMore = more
        while hasMore, let (frame, next) = try socket.receiveFrame({ (Array($0), $1) }) {
            frames.append(frame)
            hasMore = next
        }
        return frames
    }

    private func answer(_ frames: [[UInt8]]) throws(ZmqError) {
        // A REP socket must answer whatever it received; a malformed request gets a 500.
        let requestId = frames.count > 1 ? frames[1] : []
        var status = "500", text = "malformed ZAP request", userId = ""
        if frames.count >= 7, String(decoding: frames[0], as: UTF8.self) == "1.0" {
            let address = String(decoding: frames[3], as: UTF8.self)
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            let key = frames[6].withUnsafeBytes { CurveKeyPair.z85($0) }
            if mechanism == "CURVE", let key, allowed.contains(key) {
                (status, text, userId) = ("200", "OK", key)
            } else {
                (status, text) = ("400", "client key is not on the allow-list")
                remember(Pair(address: address, key: key ?? "(\(mechanism) mechanism)"))
            }
        }
        let reply: [[UInt8]] = [Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(userId.utf8), []]
        for (i, frame) in reply.enumerated() { try socket.send(frame, more: i < reply.count - 1) }
    }

    private func remember(_ p: Pair) {
        let key = refused[p] != nil || refused.count < Self.maxRemembered ? p : Pair(address: "other addresses", key: "other keys")
        refused[key, default: 0] += 1
    }

    /// The refusals since the last call, sorted by address and key.
    func takeRefused() -> [RefusedHandshake] {
        defer { refused = [:] }
        return refused.map { RefusedHandshake(address: $0.key.address, key: $0.key.key, attempts: $0.value) }
            .sorted { ($0.address, $0.key) < ($1.address, $1.key) }
    }

    func close() { socket.close() }
}
