/// A round's secure aggregation (`[secagg]`, docs/LOG.md "secagg"), in its round record: the
/// parameters, who survived each stage, the bytes and seconds per stage, and the verdict.
/// Stages are in protocol order: advertise keys, share keys, masked input, unmasking. Nothing
/// per client but the indices the stage machine dropped: the server never sees one client's
/// update or weight.
public struct SecAggRoundRecord: Codable, Sendable, Equatable {
    /// Clients asked to take part (U0).
    public var participants: Int
    /// k, neighbours per client, and t, shares that reconstruct a secret; nil when the round's
    /// parameters were refused (`failure` says why).
    public var neighbours: Int?
    public var threshold: Int?
    public var clippingRange: Double
    public var quantizationBits: Int
    public var modulusBits: Int
    /// Clients that answered each stage (U1…U4).
    public var survivors: [Int]
    /// Frame bytes per stage: client → server, server → client.
    public var stageBytesUp: [Int]
    public var stageBytesDown: [Int]
    /// Seconds each stage was open on the server's clock (stage 1 includes local training).
    public var stageSeconds: [Double]
    /// Σw_i of the unmasked clients (the denominator of the merge); nil when the round failed.
    public var weightTotal: Double? = nil
    /// Why the round merged nothing; nil when it aggregated.
    public var failure: String? = nil
    /// Clients dropped for breaking the protocol, keyed by index, with why.
    public var dropped: [String: String]? = nil

    public init(participants: Int, neighbours: Int?, threshold: Int?, clippingRange: Double, quantizationBits: Int,
                modulusBits: Int, survivors: [Int], stageBytesUp: [Int], stageBytesDown: [Int], stageSeconds: [Double]) {
        self.participants = participants; self.neighbours = neighbours; self.threshold = threshold
        self.clippingRange = clippingRange; self.quantizationBits = quantizationBits; self.modulusBits = modulusBits
        self.survivors = survivors; self.stageBytesUp = stageBytesUp; self.stageBytesDown = stageBytesDown
        self.stageSeconds = stageSeconds
    }
}
