import AviaryMath

/// Label-quantity skew "#C = k" (NIID-Bench): client i holds exactly k distinct classes, the
/// first being class i mod C (so classes are covered when clients ≥ classes) and the rest
/// random; each class's samples are split evenly among the clients holding it.
public enum ClassesPerClientPartitioner {
    public static func partition(labels: [Int32], classes: Int, clients: Int, classesPerClient k: Int,
                                 seed: UInt64) throws -> Partition {
        try PartitionSupport.requireClients(clients, "classes-per-client")
        var rng = RandomStream(seed: seed, purpose: .partition, index: 0)
        var byClass = PartitionSupport.indicesByClass(labels, classes: classes)
        let present = (0..<classes).filter { !byClass[$0].isEmpty }
        guard k >= 1, k <= present.count else {
            throw PartitionError.invalidParameter(partitioner: "classes-per-client", problem: "k must be in 1...\(present.count) (classes present), got \(k)")
        }
        var holders = [[Int]](repeating: [], count: classes)
        for client in 0..<clients {
            var chosen = [present[client % present.count]]
            while chosen.count < k {
                let candidate = present[rng.nextInt(below: present.count)]
                if !chosen.contains(candidate) { chosen.append(candidate) }
            }
            for c in chosen { holders[c].append(client) }
        }
        var result = [[Int]](repeating: [], count: clients)
        var notes: [String] = []
        let unheld = present.filter { holders[$0].isEmpty }
        if !unheld.isEmpty { notes.append("classes-per-client: classes \(unheld) held by no client; their samples are dropped") }
        var starved = 0
        for c in present where !holders[c].isEmpty {
            rng.shuffle(&byClass[c])
            let sizes = PartitionSupport.balancedSizes(total: byClass[c].count, parts: holders[c].count)
            starved += sizes.filter { $0 == 0 }.count
            for (holder, piece) in zip(holders[c], PartitionSupport.split(byClass[c], sizes: sizes)) {
                result[holder].append(contentsOf: piece)
            }
        }
        if starved > 0 { notes.append("classes-per-client: \(starved) client-class pairs got no samples (class smaller than its holder count)") }
        return Partition(clientIndices: result, sampleCount: labels.count, notes: notes)
    }
}
