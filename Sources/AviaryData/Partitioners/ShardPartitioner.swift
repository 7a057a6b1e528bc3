import AviaryMath

/// Pathological non-IID (McMahan et al., 2017): samples sorted by label are cut into
/// `shardsTotal` contiguous shards (default `perClient × clients`, sizes differing by at most
/// one) and each client receives `perClient` random shards. Unassigned shards are dropped.
public enum ShardPartitioner {
    public static func partition(labels: [Int32], classes: Int, clients: Int, perClient: Int,
                                 shardsTotal: Int? = nil, seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "shards")
        guard perClient >= 1 else {
            throw PartitionError.invalidParameter(partitioner: "shards", problem: "shards per client must be at least 1, got \(perClient)")
        }
        let total = shardsTotal ?? perClient * clients
        guard total >= perClient * clients else {
            throw PartitionError.invalidParameter(partitioner: "shards", problem: "\(total) shards cannot give \(clients) clients \(perClient) each; use at least \(perClient * clients)")
        }
        var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
        // Shuffle, then bucket by label: a stable sort whose within-class order depends on the seed.
        let order = rng.permutation(labels.count)
        var byClass = [[Int]](repeating: [], count: classes)
        for i in order where labels[i] >= 0 && Int(labels[i]) < classes { byClass[Int(labels[i])].append(i) }
        let sorted = byClass.flatMap { $0 }
        guard total <= sorted.count else {
            throw PartitionError.notEnoughSamples(partitioner: "shards", available: sorted.count, needed: total, what: "samples (one per shard)")
        }
        let shards = PartitionSupport.split(sorted, sizes: PartitionSupport.balancedSizes(total: sorted.count, parts: total))
        let shardOrder = rng.permutation(total)
        let result = (0..<clients).map { c in
            (0..<perClient).flatMap { shards[shardOrder[c * perClient + $0]] }
        }
        var notes: [String] = []
        if total > perClient * clients {
            notes.append("shards: \(total - perClient * clients) of \(total) shards left unassigned")
        }
        return Partition(clientIndices: result, sampleCount: labels.count, notes: notes)
    }
}
