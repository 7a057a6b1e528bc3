import AviaryMath

/// Natural partition: samples grouped by owner (writer, device). With as many owners as
/// clients, client i is the i-th owner in ascending id order. With more owners, owners are
/// shuffled by the seed and dealt round-robin, so client sizes are sums of whole owners.
public enum NaturalPartitioner {
    public static func partition(owners: [Int32], clients: Int, seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "natural")
        var groups: [Int32: [Int]] = [:]
        for (i, o) in owners.enumerated() { groups[o, default: []].append(i) }
        var ids = groups.keys.sorted()
        guard ids.count >= clients else {
            throw PartitionError.notEnoughSamples(partitioner: "natural", available: ids.count, needed: clients, what: "owners (one per client)")
        }
        var notes: [String] = []
        if ids.count > clients {
            var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
            rng.shuffle(&ids)
            notes.append("natural: \(ids.count) owners dealt to \(clients) clients (\(ids.count / clients)–\((ids.count + clients - 1) / clients) each)")
        }
        var result = [[Int]](repeating: [], count: clients)
        for (position, id) in ids.enumerated() { result[position % clients].append(contentsOf: groups[id]!) }
        if ids.count > clients { for c in 0..<clients { result[c].sort() } }
        return Partition(clientIndices: result, sampleCount: owners.count, notes: notes)
    }
}
