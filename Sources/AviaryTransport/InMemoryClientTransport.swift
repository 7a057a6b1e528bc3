import AviaryProtocol

/// The client transport's in-memory twin, as `InMemoryServerTransport` is the server's: a test
/// scripts the server with `respond` (or queues messages with `deliver`) and reads what the
/// client sent from `sent`. A receive on an empty inbox advances the manual clock by its timeout
/// instead of waiting, so a 120 s server timeout takes microseconds.
public final class InMemoryClientTransport: ClientTransport {
    public let clock: ManualSecondsClock
    /// What the client will receive, in order: messages, or the codec's verdict on bad bytes.
    public var inbox: [Result<Message, CodecError>] = []
    /// Every message the client sent on this connection, in order.
    public private(set) var sent: [Message] = []
    /// Called for each sent message; returns what the server answers (appended to `inbox`).
    public var respond: ((Message) -> [Message])?
    /// When set, every send fails with it (a server that stopped reading).
    public var sendError: ZmqError?
    public private(set) var closed = false

    public init(clock: ManualSecondsClock) { self.clock = clock }

    /// Queues `message` from the server.
    public func deliver(_ message: Message) { inbox.append(.success(message)) }

    public func receive(timeout: Duration) throws(ZmqError) -> Result<Message, CodecError>? {
        if !inbox.isEmpty { return inbox.removeFirst() }
        let (s, atto) = timeout.components
        clock.advance(by: Double(s) + Double(atto) * 1e-18)
        return nil
    }

    @discardableResult
    public func send(_ m: Message) throws(ZmqError) -> Int {
        if let sendError { throw sendError }
        sent.append(m)
        if let respond { for answer in respond(m) { deliver(answer) } }
        return WireCodec.encodedSize(m)
    }

    public func close(flushingFor: Duration) { closed = true }
}
