/// One sampled client's protocol bytes in a round (docs/LOG.md, "Traffic"): encoded frame sizes,
/// so the same run logs the same numbers whatever the timing.
public struct ClientTraffic: Codable, Sendable, Equatable {
    /// The UPDATE (or FAILURE) frame the client answered with; 0 when it never answered.
    public var bytesUp: Int
    /// The MODEL frame plus a TRAIN frame naming this client alone: what the client downloads
    /// to train, as if it were a process of its own.
    public var bytesDown: Int
    public init(bytesUp: Int, bytesDown: Int) { self.bytesUp = bytesUp; self.bytesDown = bytesDown }
}
