import Testing
@testable import AviaryData

/// Labels with uneven class sizes: class c has 100 + 37·c samples, interleaved.
func unevenLabels(classes: Int = 10) -> [Int32] {
    var labels: [Int32] = []
    for c in 0..<classes { labels += [Int32](repeating: Int32(c), count: 100 + 37 * c) }
    var rng = AviaryMathShim.stream(seed: 99)
    rng.shuffle(&labels)
    return labels
}

/// Every index assigned at most once, and assigned + dropped = total.
func checkInvariants(_ p: Partition, sampleCount: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    var seen = [Bool](repeating: false, count: sampleCount)
    var assigned = 0
    for indices in p.clientIndices {
        for i in indices {
            #expect(i >= 0 && i < sampleCount, sourceLocation: sourceLocation)
            #expect(!seen[i], "index \(i) assigned twice", sourceLocation: sourceLocation)
            seen[i] = true
            assigned += 1
        }
    }
    #expect(assigned + p.dropped == sampleCount, sourceLocation: sourceLocation)
}

@Suite struct PartitionerPropertyTests {
    static let labels = unevenLabels()
    static var n: Int { labels.count }

    /// Every partition spec on the shared labels, with its expected client count.
    static let specs: [PartitionSpec] = [
        .iid(sizes: nil), .iid(sizes: [100, 200, 300, 0, 50, 10, 10, 10, 10, 10]),
        .dirichlet(alpha: 0.5, minSize: 10), .dirichlet(alpha: 0.01, minSize: 5), .dirichlet(alpha: 1000, minSize: 0),
        .shards(perClient: 2, shardsTotal: nil), .shards(perClient: 3, shardsTotal: 40),
        .classesPerClient(1), .classesPerClient(3),
        .quantitySkew(.lognormal(sigma: 1.5)), .quantitySkew(.powerLaw(exponent: 1.2)), .quantitySkew(.dirichlet(alpha: 0.3)),
        .natural,
    ]

    static func owners() -> [Int32] { (0..<n).map { Int32(($0 * 7) % 23) } }

    @Test(arguments: specs) func invariantsAndDeterminism(spec: PartitionSpec) throws {
        let owners = Self.owners()
        let a = try spec.partition(labels: Self.labels, owners: owners, classes: 10, clients: 10, seed: 1)
        let b = try spec.partition(labels: Self.labels, owners: owners, classes: 10, clients: 10, seed: 1)
        let c = try spec.partition(labels: Self.labels, owners: owners, classes: 10, clients: 10, seed: 2)
        #expect(a.clients == 10)
        checkInvariants(a, sampleCount: Self.n)
        checkInvariants(c, sampleCount: Self.n)
        #expect(a == b, "same seed must give the same split")
        #expect(a.clientIndices != c.clientIndices, "different seeds must give different splits")
    }

    @Test func iidEqualSizesDifferByAtMostOne() throws {
        let p = try IIDPartitioner.partition(sampleCount: 1003, clients: 10, seed: 3)
        #expect(p.sizes == [101, 101, 101, 100, 100, 100, 100, 100, 100, 100])
        #expect(p.dropped == 0)
    }

    @Test func iidGivenSizesAreRespectedAndRestDropped() throws {
        let p = try IIDPartitioner.partition(sampleCount: 1000, clients: 3, sizes: [10, 0, 500], seed: 3)
        #expect(p.sizes == [10, 0, 500])
        #expect(p.dropped == 490)
        #expect(throws: PartitionError.self) { try IIDPartitioner.partition(sampleCount: 10, clients: 2, sizes: [6, 6], seed: 3) }
        #expect(throws: PartitionError.self) { try IIDPartitioner.partition(sampleCount: 10, clients: 3, sizes: [1, 1], seed: 3) }
    }

    @Test func shardsGiveEachClientAtMostPerClientClassesAndEqualSizes() throws {
        // 10 classes × 200 samples, 20 shards of 100: every shard is one class.
        let labels = (0..<2000).map { Int32($0 % 10) }
        let p = try ShardPartitioner.partition(labels: labels, classes: 10, clients: 10, perClient: 2, seed: 5)
        checkInvariants(p, sampleCount: 2000)
        #expect(p.sizes == [Int](repeating: 200, count: 10))
        for indices in p.clientIndices {
            #expect(Set(indices.map { labels[$0] }).count <= 2)
        }
    }

    @Test func shardsWithSpareShardsDropThem() throws {
        let labels = (0..<1000).map { Int32($0 % 10) }
        let p = try ShardPartitioner.partition(labels: labels, classes: 10, clients: 4, perClient: 2, shardsTotal: 10, seed: 5)
        checkInvariants(p, sampleCount: 1000)
        #expect(p.sizes == [200, 200, 200, 200])
        #expect(p.dropped == 200)
        #expect(!p.notes.isEmpty)
        #expect(throws: PartitionError.self) {
            try ShardPartitioner.partition(labels: labels, classes: 10, clients: 4, perClient: 2, shardsTotal: 7, seed: 5)
        }
    }

    @Test func classesPerClientGivesExactlyKClasses() throws {
        for k in [1, 2, 5, 10] {
            let p = try ClassesPerClientPartitioner.partition(labels: Self.labels, classes: 10, clients: 17, classesPerClient: k, seed: 8)
            checkInvariants(p, sampleCount: Self.n)
            for indices in p.clientIndices {
                #expect(Set(indices.map { Self.labels[$0] }).count == k)
            }
        }
        #expect(throws: PartitionError.self) {
            try ClassesPerClientPartitioner.partition(labels: Self.labels, classes: 10, clients: 3, classesPerClient: 11, seed: 8)
        }
    }

    @Test func quantitySkewUsesAllSamplesWithUnequalSizes() throws {
        let p = try QuantitySkewPartitioner.partition(sampleCount: 5000, clients: 50, skew: .lognormal(sigma: 2), seed: 4)
        checkInvariants(p, sampleCount: 5000)
        #expect(p.dropped == 0)
        #expect(p.sizes.allSatisfy { $0 >= 1 })
        #expect(p.sizes.max()! > 5 * p.sizes.min()!)
        let flat = try QuantitySkewPartitioner.partition(sampleCount: 5000, clients: 50, skew: .lognormal(sigma: 0), seed: 4)
        #expect(flat.sizes == [Int](repeating: 100, count: 50))
    }

    @Test func apportionIsExactAndProportional() {
        #expect(QuantitySkewPartitioner.apportion(10, weights: [1, 1, 2]) == [3, 2, 5] || QuantitySkewPartitioner.apportion(10, weights: [1, 1, 2]) == [2, 3, 5])
        #expect(QuantitySkewPartitioner.apportion(7, weights: [0, 0, 1]) == [0, 0, 7])
    }

    @Test func naturalGroupsByOwner() throws {
        let owners: [Int32] = [5, 3, 5, 9, 3, 3]
        let p = try NaturalPartitioner.partition(owners: owners, clients: 3, seed: 0)
        #expect(p.clientIndices == [[1, 4, 5], [0, 2], [3]])
        let dealt = try NaturalPartitioner.partition(owners: owners, clients: 2, seed: 0)
        checkInvariants(dealt, sampleCount: 6)
        #expect(dealt.dropped == 0)
        for indices in dealt.clientIndices {  // owners are never split across clients
            for o in Set(indices.map { owners[$0] }) {
                #expect(indices.filter { owners[$0] == o }.count == owners.filter { $0 == o }.count)
            }
        }
        #expect(throws: PartitionError.self) { try NaturalPartitioner.partition(owners: owners, clients: 4, seed: 0) }
        #expect(throws: PartitionError.missingOwners(dataset: "x")) {
            try PartitionSpec.natural.partition(labels: [0], owners: nil, classes: 1, clients: 1, seed: 0, datasetName: "x")
        }
    }

    @Test func localSplitIsDisjointSeededAndSized() {
        let indices = Array(100..<1100)
        let a = LocalSplit.split(indices, testFraction: 0.1, seed: 1, client: 3)
        #expect(a.test.count == 100 && a.train.count == 900)
        #expect(Set(a.train).isDisjoint(with: a.test))
        #expect(Set(a.train + a.test) == Set(indices))
        #expect(LocalSplit.split(indices, testFraction: 0.1, seed: 1, client: 3) == a)
        #expect(LocalSplit.split(indices, testFraction: 0.1, seed: 1, client: 4).test != a.test)
        #expect(LocalSplit.split(indices, testFraction: 0, seed: 1, client: 3).train == indices)
    }
}
