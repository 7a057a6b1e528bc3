import Testing
@testable import AviaryMerge
import AviaryMath

/// Properties every strategy must hold, on random updates from fixed streams.
@Suite struct PropertyTests {
    @Test(arguments: Fixtures.allStrategies)
    func weightsAreNonNegativeAndSumToOne(strategy: AggregationStrategy) throws {
        for seed: UInt64 in 1...5 {
            let r = try aggregate(Fixtures.randomUpdates(n: 9, p: 37, seed: seed), strategy: strategy)
            #expect(r.weights.count == 9)
            #expect(r.weights.values.allSatisfy { $0 >= 0 && $0.isFinite })
            #expect(abs(r.weights.values.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test(arguments: Fixtures.allStrategies)
    func permutingInputsIsBitIdentical(strategy: AggregationStrategy) throws {
        let updates = Fixtures.randomUpdates(n: 11, p: 20_000, seed: 42)
        let reference = try aggregate(updates, strategy: strategy, clipNorm: 140)
        #expect(!reference.clipped.isEmpty, "the clip norm should bite for some updates")
        var rng = RandomStream(seed: 7, purpose: .shuffle)
        for _ in 0..<3 {
            var shuffled = updates
            shuffled.shuffle(using: &rng)
            let r = try aggregate(shuffled, strategy: strategy, clipNorm: 140)
            #expect(r.delta.map(\.bitPattern) == reference.delta.map(\.bitPattern))
            #expect(r.weights == reference.weights)
            #expect(r.clipped == reference.clipped)
        }
    }

    @Test(arguments: Fixtures.allStrategies)
    func mismatchedDimensionsNameTheClient(strategy: AggregationStrategy) {
        var updates = Fixtures.randomUpdates(n: 8, p: 6, seed: 3)
        updates[5].delta.append(0)
        let culprit = updates[5].clientIndex
        #expect(throws: MergeError.dimensionMismatch(clientIndex: culprit, length: 7, expected: 6,
                                                     referenceClient: updates[0].clientIndex)) {
            try aggregate(updates, strategy: strategy)
        }
    }

    @Test(arguments: Fixtures.allStrategies)
    func emptyInputIsAnError(strategy: AggregationStrategy) {
        #expect(throws: MergeError.noUpdates) { try aggregate([], strategy: strategy) }
    }

    @Test func duplicateClientIsAnError() {
        let updates = [Fixtures.update(2, [1]), Fixtures.update(2, [3])]
        #expect(throws: MergeError.duplicateClient(clientIndex: 2)) { try aggregate(updates, strategy: .uniform) }
    }

    @Test func linearStrategiesMatchADoubleReference() throws {
        let updates = Fixtures.randomUpdates(n: 13, p: 50_000, seed: 9)
        let r = try aggregate(updates, strategy: .fedavg)
        let sorted = updates.sorted { $0.clientIndex < $1.clientIndex }
        let total = Double(sorted.reduce(0) { $0 + $1.samples })
        for j in stride(from: 0, to: 50_000, by: 997) {
            let expected = sorted.reduce(0.0) { $0 + Double($1.samples) / total * Double($1.delta[j]) }
            #expect(abs(Double(r.delta[j]) - expected) < 1e-5)
        }
    }

    @Test func medianMatchesSortingReference() throws {
        for n in [1, 2, 5, 16, 17, 40] {
            let updates = Fixtures.randomUpdates(n: n, p: 300, seed: UInt64(n))
            let median = try aggregate(updates, strategy: .median)
            let trimmed = try aggregate(updates, strategy: .trimmedMean(beta: 0.25))
            let trim = min(n / 4, (n - 1) / 2)
            for j in 0..<300 {
                let column = updates.map { Double($0.delta[j]) }.sorted()
                let mid = n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
                #expect(median.delta[j] == Float(mid))
                let kept = column[trim..<(n - trim)]
                #expect(abs(Double(trimmed.delta[j]) - kept.reduce(0, +) / Double(kept.count)) < 1e-6)
            }
        }
    }
}

extension AggregationStrategy: CustomTestStringConvertible {
    public var testDescription: String { "\(name)" + (self == .fedavg || self == .uniform || self == .median ? "" : " \(self)") }
}
