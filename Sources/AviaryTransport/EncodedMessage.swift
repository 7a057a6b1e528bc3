import AviaryProtocol

/// A message encoded once, to send to many peers without re-encoding (the round's MODEL carries
/// the whole global vector; encoding costs a CRC pass of ~1.5 ms per 6.6 MB). libzmq sends
/// straight from this buffer (zero-copy) and keeps it alive until every send has left.
public final class EncodedMessage {
    let bytes: UnsafeMutableRawBufferPointer
    /// The message's kind, for logging without decoding.
    public let kind: Message.Kind

    public init(_ m: Message) {
        let size = WireCodec.encodedSize(m)
        bytes = .allocate(byteCount: size, alignment: 16)
        WireCodec.encode(m, into: bytes)
        kind = m.kind
    }

    /// Encoded size in bytes.
    public var count: Int { bytes.count }

    deinit { bytes.deallocate() }
}
