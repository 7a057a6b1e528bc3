import AviaryMath

/// SecAgg+'s communication graph (Bell et al., CCS 2020): a Harary graph H(k, n) over a random
/// relabelling of the round's participants. Participants are placed on a ring in the order of a
/// seeded shuffle and each is joined to the k/2 nearest on either side, so every client has
/// exactly k neighbours (k even), and who neighbours whom is unpredictable without the seed.
/// A degree of n − 1 or more is the complete graph: plain SecAgg (Bonawitz et al.).
public struct NeighbourGraph: Sendable, Equatable {
    public let participants: [Int]
    public let degree: Int
    /// participant → its neighbours, ascending.
    private let adjacency: [Int: [Int]]

    /// - Parameters:
    ///   - participants: the round's sampled client indices (order does not matter; sorted here).
    ///   - degree: k, even and ≥ 2, or ≥ n − 1 for the complete graph.
    ///   - seed, round: the shuffle's stream (`RandomStream(seed, .other, "SECA" ‖ round)`).
    public init(participants: [Int], degree: Int, seed: UInt64, round: Int) throws(SecAggError) {
        let sorted = participants.sorted()
        guard Set(sorted).count == sorted.count else { throw .invalidParameters("a participant is listed twice") }
        let n = sorted.count
        guard n >= 2 else { throw .invalidParameters("secure aggregation needs at least 2 participants, got \(n)") }
        self.participants = sorted
        if degree >= n - 1 {
            self.degree = n - 1
            var adjacency: [Int: [Int]] = [:]
            for p in sorted { adjacency[p] = sorted.filter { $0 != p } }
            self.adjacency = adjacency
            return
        }
        guard degree >= 2, degree % 2 == 0 else {
            throw .invalidParameters("num_shares (the neighbour count k) must be even and at least 2, or at least n − 1 = \(n - 1); got \(degree)")
        }
        self.degree = degree
        var ring = sorted
        var stream = RandomStream(seed: seed, purpose: .other, index: Self.streamTag | UInt64(UInt32(truncatingIfNeeded: round)))
        stream.shuffle(&ring)
        var adjacency: [Int: [Int]] = [:]
        for (position, p) in ring.enumerated() {
            var near: [Int] = []
            for offset in 1...(degree / 2) {
                near.append(ring[(position + offset) % n])
                near.append(ring[(position - offset + n) % n])
            }
            adjacency[p] = near.sorted()
        }
        self.adjacency = adjacency
    }

    /// "SECA" in the high half: keeps this stream apart from other `.other` streams of one seed.
    static let streamTag: UInt64 = 0x5345_4341 << 32

    /// The neighbours of `client`, ascending; empty for a non-participant.
    public func neighbours(of client: Int) -> [Int] { adjacency[client] ?? [] }

    public func areNeighbours(_ a: Int, _ b: Int) -> Bool { adjacency[a]?.contains(b) ?? false }

    /// The default k for n participants: the smallest even number ≥ 2·log2(n), capped at n − 1
    /// (O(log n), as SecAgg+ prescribes; Bell et al. derive the constant from the tolerated
    /// dropout and corruption rates, which a topology can do by setting num_shares itself).
    public static func defaultDegree(participants n: Int) -> Int {
        guard n > 2 else { return max(n - 1, 1) }
        var log2n = 0
        while (1 << log2n) < n { log2n += 1 }
        let k = 2 * log2n
        return min(k, n - 1)
    }

    /// The default threshold for k neighbours: a strict majority, k/2 + 1, so two disjoint
    /// groups of neighbours can never both reconstruct a secret of one client.
    public static func defaultThreshold(degree k: Int) -> Int { k / 2 + 1 }
}
