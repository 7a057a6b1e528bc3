import Testing
@testable import AviaryData

@Suite struct DirichletPartitionerTests {
    /// 60,000 labels, 6,000 per class, like Fashion-MNIST's training set.
    static let labels: [Int32] = (0..<60_000).map { Int32($0 % 10) }

    @Test func largeAlphaIsCloseToIID() throws {
        let p = try DirichletPartitioner.partition(labels: Self.labels, classes: 10, clients: 10, alpha: 1000, minSize: 10, seed: 1)
        checkInvariants(p, sampleCount: 60_000)
        let stats = PartitionStats(partition: p, labels: Self.labels, classes: 10)
        #expect(stats.meanTotalVariation < 0.03)
        #expect(stats.meanEntropyBits > 3.3)  // log2(10) = 3.32
        #expect(p.dropped == 0)
    }

    @Test func tinyAlphaGivesMostlyOneClassPerClientAndTerminates() throws {
        // Dir(0.01) still splits a class between two clients now and then (as in NIID-Bench),
        // so judge over several seeds: few classes per client, entropy far below log2(10) = 3.32.
        var significant: [Int] = [], entropies: [Double] = []
        for seed: UInt64 in 1...5 {
            let p = try DirichletPartitioner.partition(labels: Self.labels, classes: 10, clients: 10, alpha: 0.01, minSize: 10, seed: seed)
            checkInvariants(p, sampleCount: 60_000)
            #expect(p.sizes.allSatisfy { $0 >= 10 })
            let stats = PartitionStats(partition: p, labels: Self.labels, classes: 10)
            significant += stats.clients.map { c in c.labelCounts.filter { Double($0) >= 0.05 * Double(c.count) }.count }
            entropies += stats.clients.map(\.entropyBits)
        }
        #expect(Double(significant.reduce(0, +)) / Double(significant.count) <= 2.0, "classes ≥ 5% per client: \(significant)")
        #expect(Double(significant.filter { $0 == 1 }.count) >= 0.4 * Double(significant.count))
        #expect(entropies.reduce(0, +) / Double(entropies.count) < 0.8, "entropies \(entropies)")
    }

    @Test func tinyAlphaManyClientsFallsBackAndRecordsIt() throws {
        let p = try DirichletPartitioner.partition(labels: Self.labels, classes: 10, clients: 1000, alpha: 0.01, minSize: 20, seed: 2)
        checkInvariants(p, sampleCount: 60_000)
        #expect(p.sizes.allSatisfy { $0 >= 20 })
        #expect(p.notes.contains { $0.contains("fallback") })
    }

    @Test func minSizeTooLargeIsRejected() {
        #expect(throws: PartitionError.self) {
            try DirichletPartitioner.partition(labels: Self.labels, classes: 10, clients: 1000, alpha: 1, minSize: 61, seed: 2)
        }
        #expect(throws: PartitionError.self) {
            try DirichletPartitioner.partition(labels: Self.labels, classes: 10, clients: 10, alpha: 0, minSize: 1, seed: 2)
        }
    }

    @Test func repairMovesFromLargestDominantClass() {
        var counts = [[5, 0], [0, 0], [0, 1]]
        let moved = DirichletPartitioner.repair(&counts, minSize: 2)
        #expect(counts == [[2, 0], [2, 0], [1, 1]])
        #expect(moved.samples == 3 && moved.clients == 2)
    }
}
