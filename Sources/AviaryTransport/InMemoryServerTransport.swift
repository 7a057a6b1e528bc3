import AviaryProtocol

/// The server transport's in-memory twin (swift-nio's EmbeddedChannel is the model): tests put
/// client messages in `inbox`, read what the server sent from `sent`, and script peers that
/// answer with `respond`. A receive on an empty inbox advances the manual clock by its timeout
/// instead of waiting, so a test of a 300 s deadline takes microseconds.
public final class InMemoryServerTransport: ServerTransport {
    public let boundEndpoint = "inmemory://server"
    public let clock: ManualSecondsClock
    /// Events the server will receive, in order.
    public var inbox: [ServerEvent] = []
    /// Every message the server sent, in order (encoded ones decoded back).
    public private(set) var sent: [(peer: PeerID, message: Message)] = []
    /// Peers whose sends fail with `.peerUnreachable` (a dropped connection).
    public var unreachable: Set<PeerID> = []
    /// Peers whose sends fail with `.peerNotReading` (their queue is full: they stopped reading).
    public var notReading: Set<PeerID> = []
    /// Called for each sent message; returns what the peer answers (appended to `inbox`).
    public var respond: ((PeerID, Message) -> [Message])?
    public private(set) var closed = false

    public init(clock: ManualSecondsClock) { self.clock = clock }

    /// CURVE handshakes the simulated ZAP handler refused, until the server takes them.
    public var refusedHandshakes: [RefusedHandshake] = []
    /// Failed handshakes the simulated socket monitor saw, until the server takes them.
    public var handshakeFailures = HandshakeFailures()
    /// The CURVE key each simulated connection authenticated with (used when `deliver` names none).
    public var keyOfPeer: [PeerID: String] = [:]

    /// Queues `message` from `peer`; `clientKey` simulates a CURVE connection authenticated
    /// with that public key (what the ZAP handler's User-Id carries).
    public func deliver(_ message: Message, from peer: PeerID, clientKey: String? = nil) {
        inbox.append(.message(peer, message, bytes: WireCodec.encodedSize(message), clientKey: clientKey ?? keyOfPeer[peer]))
    }

    public func takeRefusedHandshakes() -> [RefusedHandshake] {
        defer { refusedHandshakes = [] }
        return refusedHandshakes
    }

    public func takeHandshakeFailures() -> HandshakeFailures {
        defer { handshakeFailures = HandshakeFailures() }
        return handshakeFailures
    }

    public func receive(timeout: Duration) throws(ZmqError) -> ServerEvent? {
        if !inbox.isEmpty { return inbox.removeFirst() }
        let (s, atto) = timeout.components
        clock.advance(by: Double(s) + Double(atto) * 1e-18)
        return nil
    }

    public func send(_ m: Message, to peer: PeerID) throws(ZmqError) -> Int {
        if unreachable.contains(peer) { throw .peerUnreachable(peer) }
        if notReading.contains(peer) { throw .peerNotReading(peer) }
        sent.append((peer, m))
        if let respond { for answer in respond(peer, m) { deliver(answer, from: peer) } }
        return WireCodec.encodedSize(m)
    }

    public func send(_ encoded: EncodedMessage, to peer: PeerID) throws(ZmqError) -> Int {
        let bytes = UnsafeRawBufferPointer(encoded.bytes)
        guard let m = try? WireCodec.decode(bytes) else { preconditionFailure("EncodedMessage does not decode") }
        return try send(m, to: peer)
    }

    public func close(flushingFor: Duration) { closed = true }
}
