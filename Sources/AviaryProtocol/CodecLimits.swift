/// Upper bounds the decoder enforces before allocating, so hostile frames cannot make a peer
/// allocate absurd amounts of memory. Encoding does not check them: the sender is trusted to
/// stay inside what its peer accepts (docs/PROTOCOL.md lists the defaults).
public struct CodecLimits: Sendable, Equatable {
    /// Longest UTF-8 string (names, reasons, metric keys), in bytes.
    public var maxStringBytes: Int
    /// Longest opaque blob (WELCOME's run spec), in bytes.
    public var maxBlobBytes: Int
    /// Most entries in one metrics/config map.
    public var maxMetrics: Int
    /// Longest float vector (MODEL parameters, UPDATE delta), in floats.
    public var maxVectorCount: Int
    /// Most entries in one list (HELLO claims, WELCOME entries, TRAIN clients, BYE clients).
    public var maxListEntries: Int

    /// Limits with the protocol's defaults unless overridden.
    public init(maxStringBytes: Int = 64 << 10, maxBlobBytes: Int = 16 << 20,
                maxMetrics: Int = 256, maxVectorCount: Int = 1 << 28, maxListEntries: Int = 1 << 21) {
        self.maxStringBytes = maxStringBytes
        self.maxBlobBytes = maxBlobBytes
        self.maxMetrics = maxMetrics
        self.maxVectorCount = maxVectorCount
        self.maxListEntries = maxListEntries
    }

    /// The protocol's defaults: 64 KiB strings, 16 MiB blobs, 256 metrics, 2^28 floats (1 GiB),
    /// 2^21 list entries (client indices).
    public static let `default` = CodecLimits()
}
