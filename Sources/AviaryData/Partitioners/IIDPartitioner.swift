import AviaryMath

/// IID: a seeded random permutation cut into equal pieces (sizes differ by at most one) or into
/// the given sizes, the rest dropped.
public enum IIDPartitioner {
    public static func partition(sampleCount: Int, clients: Int, sizes: [Int]? = nil, seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "iid")
        let chosen: [Int]
        if let sizes {
            guard sizes.count == clients else {
                throw PartitionError.invalidParameter(partitioner: "iid", problem: "\(sizes.count) sizes given for \(clients) clients; give one size per client")
            }
            guard sizes.allSatisfy({ $0 >= 0 }) else {
                throw PartitionError.invalidParameter(partitioner: "iid", problem: "sizes must be non-negative, got \(sizes)")
            }
            let total = sizes.reduce(0, +)
            guard total <= sampleCount else {
                throw PartitionError.notEnoughSamples(partitioner: "iid", available: sampleCount, needed: total, what: "samples")
            }
            chosen = sizes
        } else {
            chosen = PartitionSupport.balancedSizes(total: sampleCount, parts: clients)
        }
        var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
        let order = rng.permutation(sampleCount)
        return Partition(clientIndices: PartitionSupport.split(order, sizes: chosen), sampleCount: sampleCount)
    }
}
