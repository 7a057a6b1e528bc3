import Foundation
import Testing
import AviaryMerge

/// FedAsync's three staleness rules and the staleness-aware weights, on hand-computed numbers.
@Suite struct StalenessDiscountTests {
    @Test func constantIsOneAtAnyStaleness() {
        #expect(StalenessDiscount.constant.factor(staleness: 0) == 1)
        #expect(StalenessDiscount.constant.factor(staleness: 7) == 1)
    }

    @Test func polynomialIsOnePlusSToTheMinusA() {
        let half = StalenessDiscount.polynomial(a: 0.5)
        #expect(half.factor(staleness: 0) == 1)
        #expect(half.factor(staleness: 3) == 0.5)          // 4^-0.5
        #expect(abs(half.factor(staleness: 8) - 1.0 / 3) < 1e-15)  // 9^-0.5
        #expect(StalenessDiscount.polynomial(a: 1).factor(staleness: 1) == 0.5)
        #expect(StalenessDiscount.polynomial(a: 0).factor(staleness: 50) == 1)
    }

    @Test func hingeIsOneUpToBThenFallsWithSlopeA() {
        let h = StalenessDiscount.hinge(a: 10, b: 4)
        #expect(h.factor(staleness: 0) == 1)
        #expect(h.factor(staleness: 4) == 1)
        #expect(h.factor(staleness: 5) == 1.0 / 11)   // 1 / (10·1 + 1)
        #expect(h.factor(staleness: 6) == 1.0 / 21)   // 1 / (10·2 + 1)
    }

    @Test func parametersOutsideTheirDomainNameTheirKey() {
        #expect(StalenessDiscount.polynomial(a: -1).parameterProblem?.key == "staleness_a")
        #expect(StalenessDiscount.polynomial(a: .infinity).parameterProblem?.key == "staleness_a")
        #expect(StalenessDiscount.hinge(a: 1, b: -2).parameterProblem?.key == "staleness_b")
        #expect(StalenessDiscount.hinge(a: -.nan, b: 2).parameterProblem?.key == "staleness_a")
        #expect(StalenessDiscount.hinge(a: 0, b: 0).parameterProblem == nil)
        #expect(StalenessDiscount.constant.parameterProblem == nil)
    }

    @Test func weightsAreTheStrategysWeightsTimesTheDiscountNotRenormalised() {
        let w = BufferedWeights.apply(base: [1: 0.5, 2: 0.25, 3: 0.25], discounts: [1: 1, 2: 0.5, 3: 0.25])
        #expect(w == [1: 0.5, 2: 0.125, 3: 0.0625])
        // K = 1 (FedAsync): the one update keeps its discount; a second renormalisation would make it 1.
        #expect(BufferedWeights.apply(base: [4: 1], discounts: [4: 0.5]) == [4: 0.5])
    }

    @Test func mwaWeightsOverTheBufferTimesDiscounts() throws {
        // MWA on train_loss with p = 1: weights ∝ 1/loss, so losses 1 and 3 give 0.75 and 0.25.
        let base = try MetricsWeightedAverage.weights(metrics: [1, 3], kind: .loss, penalty: 1)
        #expect(abs(base[0] - 0.75) < 1e-12 && abs(base[1] - 0.25) < 1e-12)
        let polynomial = StalenessDiscount.polynomial(a: 0.5)
        let w = BufferedWeights.apply(base: [10: base[0], 11: base[1]],
                                      discounts: [10: polynomial.factor(staleness: 3), 11: polynomial.factor(staleness: 0)])
        #expect(abs(w[10]! - 0.375) < 1e-12)   // 0.75 × 4^-0.5
        #expect(abs(w[11]! - 0.25) < 1e-12)
    }

    @Test func fedAvgWeightsFromAggregateTimesDiscounts() throws {
        let updates = [ClientUpdate(clientIndex: 0, samples: 100, metrics: ["dataset_size": 100], delta: [1, 0]),
                       ClientUpdate(clientIndex: 1, samples: 300, metrics: ["dataset_size": 300], delta: [0, 1])]
        let result = try aggregate(updates, strategy: .fedavg)
        let w = BufferedWeights.apply(base: result.weights, discounts: [0: 1, 1: StalenessDiscount.polynomial(a: 1).factor(staleness: 1)])
        #expect(abs(w[0]! - 0.25) < 1e-12)
        #expect(abs(w[1]! - 0.375) < 1e-12)    // 0.75 × 2^-1
    }
}
