import CZmq
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed ZeroMQ call, with the call's name, errno and libzmq's own text.
public enum ZmqError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A libzmq call returned an error not covered by a more specific case.
    case callFailed(call: String, errno: Int32, text: String)
    /// ROUTER send to an identity with no live connection (ZMQ_ROUTER_MANDATORY → EHOSTUNREACH).
    case peerUnreachable(PeerID)
    /// A blocking send waited `milliseconds` (ZMQ_SNDTIMEO) because the peer is not reading.
    case sendTimedOut(call: String, milliseconds: Int)
    /// A non-blocking send (ZMQ_DONTWAIT) found the queue full (EAGAIN).
    case queueFull(call: String)
    /// The server's queue towards this peer is full (ZMQ_SNDHWM messages): it stopped reading.
    /// The server never waits for one peer; it drops it instead.
    case peerNotReading(PeerID)
    /// The socket was used after `close()`.
    case socketClosed(call: String)
    /// The context was terminated while the socket was in use (process shutting down).
    case contextTerminated(call: String)
    /// A DEALER identity must be 1–255 bytes and must not start with a zero byte (libzmq reserves those).
    case invalidIdentity(String)
    /// This libzmq was built without CURVE (no libsodium), so encrypted transport is impossible.
    case curveUnavailable
    /// A CURVE key given to an endpoint is not 40 characters of Z85.
    case invalidCurveKey(role: String)
    /// The server refused this client's CURVE key during the handshake (ZAP status, e.g. 400):
    /// the key is not on the server's allow-list.
    case authenticationRefused(endpoint: String, status: Int)

    /// The error libzmq reports for the call that just failed on this thread.
    static func last(_ call: String) -> ZmqError {
        let code = zmq_errno()
        if code == ETERM { return .contextTerminated(call: call) }
        return .callFailed(call: call, errno: code, text: String(cString: zmq_strerror(code)))
    }

    public var description: String {
        switch self {
        case .callFailed(let call, let code, let text):
            let hint = code == EADDRINUSE ? "; another process holds this address, pick another port or stop it"
                : code == EINVAL ? "; check the endpoint syntax, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/aviary.sock"
                : code == ENOENT ? "; the ipc directory must exist" : ""
            return "\(call) failed: \(text) (errno \(code))\(hint)"
        case .peerUnreachable(let peer):
            return "peer \(peer) is not connected (it disconnected or never said HELLO); drop it from the round"
        case .queueFull(let call):
            return "\(call) would block: the send queue is full"
        case .peerNotReading(let peer):
            return "peer \(peer) is not reading: the server's queue towards it is full; it is dropped, not waited for"
        case .sendTimedOut(let call, let ms):
            return "\(call) timed out after \(ms) ms: the peer is not reading; treat it as dead or raise the send timeout"
        case .socketClosed(let call):
            return "\(call) on a closed socket; create a new endpoint"
        case .contextTerminated(let call):
            return "\(call) interrupted: the ZeroMQ context was terminated (process shutting down)"
        case .invalidIdentity(let identity):
            return "client identity \"\(identity)\" is invalid: it must be 1–255 bytes of UTF-8 and must not start with a NUL byte"
        case .curveUnavailable:
            return "this libzmq has no CURVE support (zmq_has(\"curve\") is 0); install a libzmq built with libsodium (Debian's libzmq5 is) or run without CURVE"
        case .invalidCurveKey(let role):
            return "the \(role) is not a CURVE key (40 characters of Z85, as `aviary keygen` writes)"
        case .authenticationRefused(let endpoint, let status):
            return "the server at \(endpoint) refused this client's CURVE key (ZAP status \(status)): its public key is not on the server's allow-list; add the .public key file's key to the list given to aviary-server --allow"
        }
    }
}
