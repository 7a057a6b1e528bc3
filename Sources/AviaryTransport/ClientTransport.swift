import AviaryProtocol

/// What a client process's socket loop needs from its connection to the server: whole messages
/// in and out, and a bounded close. `ClientEndpoint` is the ZeroMQ one; `InMemoryClientTransport`
/// is its twin for tests, as `ServerTransport` has `InMemoryServerTransport`.
public protocol ClientTransport: AnyObject {
    /// The next message (or why its bytes were rejected), or nil if none arrived within `timeout`.
    func receive(timeout: Duration) throws(ZmqError) -> Result<Message, CodecError>?
    /// Sends `m`; returns its size on the wire.
    @discardableResult
    func send(_ m: Message) throws(ZmqError) -> Int
    /// Closes the connection; queued frames get at most `flushingFor` to leave.
    func close(flushingFor: Duration)
}

extension ClientEndpoint: ClientTransport {}
