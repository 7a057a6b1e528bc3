import Testing
@testable import AviaryMerge

/// Hand-computed examples, one per strategy (Prepare / Execute / Assert).
@Suite struct StrategyExampleTests {
    @Test func fedavgWeightsBySamples() throws {
        let updates = [Fixtures.update(0, [1, 2], samples: 1), Fixtures.update(1, [4, 8], samples: 3)]
        let r = try aggregate(updates, strategy: .fedavg)
        #expect(r.delta == [3.25, 6.5])
        #expect(r.weights == [0: 0.25, 1: 0.75])
        #expect(r.rejected.isEmpty && r.clipped.isEmpty)
    }

    @Test func fedavgRejectsZeroSamples() throws {
        let updates = [Fixtures.update(0, [1], samples: 0), Fixtures.update(1, [4], samples: 2)]
        let r = try aggregate(updates, strategy: .fedavg)
        #expect(r.delta == [4])
        #expect(r.rejected.map(\.clientIndex) == [0])
    }

    @Test func uniformIgnoresSamples() throws {
        let updates = [Fixtures.update(0, [1, 2], samples: 1), Fixtures.update(1, [3, 6], samples: 100)]
        let r = try aggregate(updates, strategy: .uniform)
        #expect(r.delta == [2, 4])
        #expect(r.weights == [0: 0.5, 1: 0.5])
    }

    @Test func mwaLossTypeFavoursLowLoss() throws {
        // p = 1, losses 1 and 3: w ∝ 1 and 1/3, so 0.75 and 0.25.
        let updates = [Fixtures.update(0, [4, 0], loss: 1), Fixtures.update(1, [0, 4], loss: 3)]
        let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: 1)))
        #expect(abs(r.weights[0]! - 0.75) < 1e-12 && abs(r.weights[1]! - 0.25) < 1e-12)
        #expect(Fixtures.close(r.delta, [3, 1]))
    }

    @Test func mwaProgressTypeFavoursMoreSteps() throws {
        // p = 2, steps 1 and 2: w ∝ 1 and 4, so 0.2 and 0.8.
        let updates = [Fixtures.update(0, [10], steps: 1), Fixtures.update(1, [0], steps: 2)]
        let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .steps, penalty: 2)))
        #expect(abs(r.weights[0]! - 0.2) < 1e-12 && abs(r.weights[1]! - 0.8) < 1e-12)
        #expect(Fixtures.close(r.delta, [2]))
    }

    @Test func mwaCombinedWithSamples() throws {
        // p = 1, losses 1 and 2 (∝ 1, 1/2) times samples 1 and 2 (∝ 1, 2): equal weights.
        let updates = [Fixtures.update(0, [2], samples: 1, loss: 1), Fixtures.update(1, [4], samples: 2, loss: 2)]
        let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: 1, combineWithSamples: true)))
        #expect(abs(r.weights[0]! - 0.5) < 1e-12 && abs(r.weights[1]! - 0.5) < 1e-12)
        #expect(Fixtures.close(r.delta, [3]))
    }

    @Test func medianOddCount() throws {
        let updates = [Fixtures.update(0, [1, 10]), Fixtures.update(1, [2, 20]), Fixtures.update(2, [100, -5])]
        let r = try aggregate(updates, strategy: .median)
        #expect(r.delta == [2, 10])
        // Coordinate 0's median is client 1's value, coordinate 1's is client 0's.
        #expect(r.weights == [0: 0.5, 1: 0.5, 2: 0])
    }

    @Test func medianEvenCountAveragesTheMiddlePair() throws {
        let updates = [Fixtures.update(0, [3]), Fixtures.update(1, [100]), Fixtures.update(2, [1]), Fixtures.update(3, [2])]
        let r = try aggregate(updates, strategy: .median)
        #expect(r.delta == [2.5])
        #expect(r.weights == [0: 0.5, 1: 0, 2: 0, 3: 0.5])
    }

    @Test func trimmedMeanDropsBothEnds() throws {
        // beta 0.2 of 5 trims one value at each end: mean of 2, 3, 4 and of −1, 0, 1.
        let values: [[Float]] = [[4, 0], [100, -50], [2, 1], [1, 7], [3, -1]]
        let updates = values.enumerated().map { Fixtures.update($0.offset, $0.element) }
        let r = try aggregate(updates, strategy: .trimmedMean(beta: 0.2))
        #expect(r.delta == [3, 0])
        #expect(abs(r.weights.values.reduce(0, +) - 1) < 1e-12)
        #expect(r.weights[1] == 0)
    }

    @Test func trimmedMeanWithZeroBetaIsTheMean() throws {
        let updates = [Fixtures.update(0, [1]), Fixtures.update(1, [2]), Fixtures.update(2, [6])]
        #expect(try aggregate(updates, strategy: .trimmedMean(beta: 0)).delta == [3])
    }

    /// Four honest points around (0.5, 0.5), one far away; f = 1 so each score sums 2 neighbours.
    private var krumUpdates: [ClientUpdate] {
        [Fixtures.update(0, [0, 0]), Fixtures.update(1, [1, 0]), Fixtures.update(2, [0, 1]),
         Fixtures.update(3, [0.5, 0.5]), Fixtures.update(4, [100, 100])]
    }

    @Test func krumPicksTheMostCentralUpdate() throws {
        // Scores: client 3 → 0.5 + 0.5 = 1; clients 0, 1, 2 → 0.5 + 1 = 1.5; client 4 huge.
        let r = try aggregate(krumUpdates, strategy: .krum(byzantine: 1))
        #expect(r.delta == [0.5, 0.5])
        #expect(r.weights == [0: 0, 1: 0, 2: 0, 3: 1, 4: 0])
    }

    @Test func multiKrumAveragesTheBestScores() throws {
        // Best two: client 3 (1.0), then the tie at 1.5 goes to the lowest index, client 0.
        let r = try aggregate(krumUpdates, strategy: .multiKrum(byzantine: 1, selected: 2))
        #expect(r.delta == [0.25, 0.25])
        #expect(r.weights == [0: 0.5, 1: 0, 2: 0, 3: 0.5, 4: 0])
    }

    @Test func krumNeedsEnoughUpdates() {
        #expect(throws: MergeError.tooFewUpdates(strategy: "krum", required: 5, got: 4)) {
            try aggregate(Array(krumUpdates.prefix(4)), strategy: .krum(byzantine: 1))
        }
    }

    @Test func clippingScalesLongDeltasOnly() throws {
        // ‖(3, 4)‖ = 5 is clipped to 1 → (0.6, 0.8); ‖(0.5, 0)‖ stays.
        let updates = [Fixtures.update(0, [3, 4]), Fixtures.update(1, [0.5, 0])]
        let r = try aggregate(updates, strategy: .uniform, clipNorm: 1)
        #expect(Fixtures.close(r.delta, [0.55, 0.4]))
        #expect(r.clipped == [0: 5])
        #expect(r.weights == [0: 0.5, 1: 0.5])
    }

    @Test func clippingComposesWithMedian() throws {
        let updates = [Fixtures.update(0, [0, 30]), Fixtures.update(1, [0, 1]), Fixtures.update(2, [0, 2])]
        let r = try aggregate(updates, strategy: .median, clipNorm: 1.5)
        // Client 0 clipped to (0, 1.5), client 2 to (0, 1.5): values 1.5, 1, 1.5 → median 1.5.
        #expect(r.delta == [0, 1.5])
        #expect(Set(r.clipped.keys) == [0, 2])
    }
}
