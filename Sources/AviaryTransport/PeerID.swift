/// A client as the ROUTER sees it: the routing identity of its DEALER connection (the identity
/// the client set, or 5 bytes libzmq generated, starting with 0).
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Wraps a routing identity as received from (or to be sent to) the ROUTER.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The identity as text when it is printable ASCII (client-chosen names), else hex.
    public var description: String {
        if !bytes.isEmpty, bytes.allSatisfy({ (0x21...0x7E).contains($0) }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
