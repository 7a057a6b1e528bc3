/// One round's secure-aggregation setup, the same on the server and every client: who takes
/// part, the neighbour graph, the threshold and the ring.
public struct SecAggParameters: Sendable, Equatable {
    public let round: Int
    /// The round's sampled client indices, ascending (U0).
    public let participants: [Int]
    public let threshold: Int
    public let graphSeed: UInt64
    public let quantiser: FixedPointQuantiser
    /// Coordinates of the masked vector (the model's length, plus 1 with the weight coordinate).
    public let vectorLength: Int
    public let graph: NeighbourGraph

    /// - Parameters:
    ///   - degree: k, neighbours per client (even, or ≥ n − 1 for the complete graph).
    ///   - threshold: t, shares that reconstruct a secret: k/2 < t ≤ k.
    /// - Throws: anything the graph or the quantiser refuses; a threshold that is not a strict
    ///   majority of the neighbours; a sum of the participants that could wrap.
    public init(round: Int, participants: [Int], degree: Int, threshold: Int, graphSeed: UInt64,
                quantiser: FixedPointQuantiser, vectorLength: Int) throws(SecAggError) {
        let graph = try NeighbourGraph(participants: participants, degree: degree, seed: graphSeed, round: round)
        // A strict majority: a server that tells two halves of a client's neighbours different
        // stories (dropped to one, alive to the other) can never collect t of both share kinds.
        guard threshold > graph.degree / 2, threshold <= graph.degree else {
            throw .invalidParameters("reconstruction_threshold must be a strict majority of the \(graph.degree) neighbours (\(graph.degree / 2 + 1)…\(graph.degree)), got \(threshold)")
        }
        guard vectorLength >= 1 else { throw .invalidParameters("the masked vector needs at least one coordinate") }
        try quantiser.validate(clients: graph.participants.count)
        self.round = round; self.participants = graph.participants; self.threshold = threshold
        self.graphSeed = graphSeed; self.quantiser = quantiser; self.vectorLength = vectorLength; self.graph = graph
    }

    public var modulusBits: Int { quantiser.modulusBits }
}

/// The round's fresh secrets of one client: two X25519 private keys, the self-mask seed, and the
/// seed of its Shamir coefficients. 128 bytes from the system's random source in a run
/// (`generate()`), fixed bytes in tests. Never reused across rounds: a replayed round draws anew.
public struct ClientSecrets: Sendable, Equatable {
    public let encryptionKey: [UInt8]
    public let maskKey: [UInt8]
    public let selfMaskSeed: [UInt8]
    public let sharingSeed: [UInt8]

    public init(bytes: [UInt8]) throws(SecAggError) {
        guard bytes.count == 128 else { throw .wrongSecretLength(expected: 128, got: bytes.count) }
        encryptionKey = Array(bytes[0..<32]); maskKey = Array(bytes[32..<64])
        selfMaskSeed = Array(bytes[64..<96]); sharingSeed = Array(bytes[96..<128])
    }

    /// From `SystemRandomNumberGenerator` (getrandom on Linux: a CSPRNG).
    public static func generate() -> ClientSecrets {
        var system = SystemRandomNumberGenerator()
        let bytes = (0..<16).flatMap { _ in withUnsafeBytes(of: system.next()) { Array($0) } }
        return try! ClientSecrets(bytes: bytes)  // 128 bytes by construction
    }
}
