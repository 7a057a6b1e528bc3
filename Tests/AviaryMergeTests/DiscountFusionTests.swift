import Foundation
import Testing
@testable import AviaryMerge
import AviaryMath

/// `aggregate(discounts:)` and `ServerOptimizer.applySGDIfFinite` do in fused passes what the
/// server did in separate ones (a scaled copy of each discounted delta; the finiteness checks,
/// the step and the update norm one after another): the results must be the same bits.
@Suite struct DiscountFusionTests {
    /// Discounts as buffered mode computes them: Float((1 + s)^−a), some 1.
    private static func discounts(for updates: [ClientUpdate]) -> [Int: Float] {
        var out: [Int: Float] = [:]
        for (k, u) in updates.enumerated() where k % 4 != 0 { out[u.clientIndex] = Float(pow(1 + Double(k % 5), -0.5)) }
        return out
    }

    private static func scaledCopies(_ updates: [ClientUpdate], _ discounts: [Int: Float]) -> [ClientUpdate] {
        updates.map { u in
            var v = u
            if let f = discounts[u.clientIndex] { v.delta = u.delta.map { $0 * f } }
            return v
        }
    }

    private static func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

    @Test(arguments: Fixtures.allStrategies)
    func discountsInsideTheMergeGiveTheScaledCopiesBits(strategy: AggregationStrategy) throws {
        // 9 updates: the weighted sum's four-wide sweeps and its tail; p not a multiple of 8 or
        // of a block, so the norm's and the kernel's remainders run too.
        for (p, clip, bound) in [(1_003, nil, UpdateNormBound(medianMultiple: 1000)), (20_011, 3.0, UpdateNormBound(maxNorm: 150, medianMultiple: 1.05))] as [(Int, Double?, UpdateNormBound)] {
            let updates = Fixtures.randomUpdates(n: 9, p: p, seed: 41)
            let d = Self.discounts(for: updates)
            #expect(d.count > 3)
            let fused = Result { try aggregate(updates, strategy: strategy, clipNorm: clip, normBound: bound, discounts: d) }
            let copied = Result { try aggregate(Self.scaledCopies(updates, d), strategy: strategy, clipNorm: clip, normBound: bound) }
            switch (fused, copied) {
            case let (.success(fused), .success(copied)):
                let same = Self.bits(fused.delta) == Self.bits(copied.delta)
                #expect(same, "\(strategy.name), p = \(p): the merged deltas differ")
                #expect(fused.weights == copied.weights)
                #expect(fused.rejected.map(\.clientIndex) == copied.rejected.map(\.clientIndex))
                #expect(fused.clipped == copied.clipped)
            case let (.failure(a), .failure(b)):
                // The tight bound leaves Krum too few updates: the same refusal either way.
                #expect("\(a)" == "\(b)")
                #expect(p != 1_003, "the loose bound must merge with every strategy")
            default:
                Issue.record("fused \(fused), copied \(copied)")
            }
        }
    }

    @Test func theNormBoundSeesTheDiscountedNorm() throws {
        // Client 2's delta is 10× the others', discounted by 1/10: undiscounted it is beyond a
        // bound of 2 × the median norm, discounted it is not.
        let base = (0..<100).map { Float($0 % 7) - 3 }
        let updates = [Fixtures.update(0, base), Fixtures.update(1, base.map { $0 * 1.1 }), Fixtures.update(2, base.map { $0 * 10 })]
        let bound = UpdateNormBound(medianMultiple: 2)
        #expect(try aggregate(updates, strategy: .uniform, normBound: bound).rejected.map(\.clientIndex) == [2])
        #expect(try aggregate(updates, strategy: .uniform, normBound: bound, discounts: [2: 0.1]).rejected.isEmpty)
    }

    @Test func fusedSGDStepMatchesTheSeparateSteps() throws {
        var rng = RandomStream(seed: 9, purpose: .synthetic)
        let p = 10_007
        let global = (0..<p).map { _ in Float(rng.normal()) }
        let delta = (0..<p).map { _ in Float(rng.normal()) * 0.01 }
        for lr in [1.0, 0.7] {
            var separate = try ServerOptimizer(spec: .sgd(lr: lr))
            var candidate = global
            try separate.apply(delta: delta, to: &candidate)
            var fused = try ServerOptimizer(spec: .sgd(lr: lr))
            let stepped = fused.applySGDIfFinite(delta: delta, to: global)
            let result = try #require(stepped)
            let same = Self.bits(result.global) == Self.bits(candidate)
            #expect(same, "lr \(lr): the new global models differ")
            #expect(result.squaredNorm.bitPattern == delta.reduce(Float(0)) { $0 + $1 * $1 }.bitPattern)
            #expect(fused == separate, "a fused step counts as a step")
        }
    }

    @Test func fusedSGDStepDeclinesWhatTheSeparateStepsReport() throws {
        var sgd = try ServerOptimizer(spec: .sgd(lr: 1))
        let before = sgd
        #expect(sgd.applySGDIfFinite(delta: [1, .nan, 2], to: [0, 0, 0]) == nil, "a non-finite delta")
        #expect(sgd.applySGDIfFinite(delta: [1, .infinity], to: [0, 0]) == nil)
        #expect(sgd.applySGDIfFinite(delta: [.greatestFiniteMagnitude, 0], to: [.greatestFiniteMagnitude, 0]) == nil,
                "a step past Float's range")
        #expect(sgd.applySGDIfFinite(delta: [1, 2], to: [0, 0, 0]) == nil, "lengths differ")
        #expect(sgd == before, "a declined step changes nothing")
        var adam = try ServerOptimizer(spec: .fedadam(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        #expect(adam.applySGDIfFinite(delta: [1], to: [0]) == nil, "only the SGD rule is fused")
    }
}
