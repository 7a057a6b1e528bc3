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

    @Test func oneFusedPassGivesTheSeparatePassesBits() {
        // The Swift loop (vector level 0; the AVX2 kernel is held against it below).
        // Norms and weighted sum in one pass against `squaredNorm` and `run`: input counts
        // around the four-wide sweeps, lengths below, at and across the norm's blocks with tails.
        var rng = RandomStream(seed: 12, purpose: .synthetic)
        for n in [1, 2, 4, 5, 9, 11] {
            for count in [7, 8, 4_096, 4_103, 20_011] {
                let arrays = (0..<n).map { _ in (0..<count).map { _ in Float(rng.normal()) } }
                let weights = (0..<n).map { _ in Float(rng.uniform(0.01, 1)) }
                let prescales = (0..<n).map { i -> Float in i % 3 == 1 ? 1 : Float(rng.uniform(0.1, 1)) }
                FloatPointers.with(arrays) { inputs in
                    var separate = [Float](repeating: 0, count: count), fused = separate
                    separate.withUnsafeMutableBufferPointer {
                        WeightedSumKernel.run(inputs: inputs, weights: weights, prescales: prescales, count: count, into: $0.baseAddress!)
                    }
                    let (squares, outputSquares, _) = fused.withUnsafeMutableBufferPointer {
                        WeightedSumKernel.runWithSquaredNorms(inputs: inputs, weights: weights, prescales: prescales, count: count,
                                                              into: $0.baseAddress!, vectorLevel: 0)
                    }
                    let same = Self.bits(fused) == Self.bits(separate)
                    #expect(same, "n \(n), count \(count): the sums differ")
                    // `update_norm`'s sum: sequential, in Float, over the merged delta.
                    let sequential = fused.reduce(Float(0)) { $0 + $1 * $1 }
                    #expect(outputSquares.bitPattern == sequential.bitPattern, "n \(n), count \(count): \(outputSquares) vs \(sequential)")
                    for i in 0..<n {
                        let norm = FloatPointers.squaredNorm(inputs[i], count: count, scale: prescales[i])
                        #expect(squares[i].bitPattern == norm.bitPattern, "n \(n), count \(count), input \(i): \(squares[i]) vs \(norm)")
                    }
                }
            }
        }
    }

    @Test(arguments: Fixtures.allStrategies.filter(\.isWeightedMean))
    func aBoundThatRejectsNothingLeavesTheMergeAsWithout(strategy: AggregationStrategy) throws {
        // The bound's one-pass merge against the merge without a bound, and against the
        // general path that a rejection sends it to.
        let updates = Fixtures.randomUpdates(n: 9, p: 10_001, seed: 3)
        let d = Self.discounts(for: updates)
        let bounded = try aggregate(updates, strategy: strategy, normBound: UpdateNormBound(medianMultiple: 1000), discounts: d)
        let unbounded = try aggregate(updates, strategy: strategy, discounts: d)
        #expect(Self.bits(bounded.delta) == Self.bits(unbounded.delta), "\(strategy.name): the merged deltas differ")
        #expect(bounded.weights == unbounded.weights && bounded.rejected.isEmpty)
        let squares = try #require(bounded.deltaSquares, "the bounded one-pass merge sums the merged delta's squares")
        #expect(squares.bitPattern == bounded.delta.reduce(Float(0)) { $0 + $1 * $1 }.bitPattern)
        // Client 7's delta ×100 is beyond 10 × the median: the general path rejects it.
        var outlier = updates
        outlier[2].delta = outlier[2].delta.map { $0 * 100 }
        let rejecting = try aggregate(outlier, strategy: strategy, normBound: UpdateNormBound(medianMultiple: 10), discounts: d)
        let without = try aggregate(outlier.filter { $0.clientIndex != outlier[2].clientIndex }, strategy: strategy, discounts: d)
        #expect(rejecting.rejected.map(\.clientIndex) == [outlier[2].clientIndex])
        #expect(Self.bits(rejecting.delta) == Self.bits(without.delta), "\(strategy.name): the merge without the outlier differs")
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
            var withoutNorm = try ServerOptimizer(spec: .sgd(lr: lr))
            let stepped2 = withoutNorm.applySGDStepIfFinite(delta: delta, to: global)
            let stepOnly = try #require(stepped2)
            #expect(Self.bits(stepOnly) == Self.bits(candidate), "lr \(lr): the step without the norm differs")
            #expect(withoutNorm == separate, "a step without the norm counts as a step")
        }
    }

    /// `aggregate(serverStep:)`: the bounded weighted mean's pass also steps the model, with the
    /// separate step's bits; a round its bound rejects in takes the general path and no step.
    @Test(.enabled(if: VectorKernels.level >= 1, "the CPU has no AVX2: the step is not fused"))
    func aggregateStepsTheModelInTheMergesPass() throws {
        var rng = RandomStream(seed: 31, purpose: .synthetic)
        let p = 9_001
        let global = (0..<p).map { _ in Float(rng.normal()) }
        let updates = (0..<7).map { c in Fixtures.update(c, (0..<p).map { _ in Float(rng.normal()) * 0.01 }) }
        let bound = UpdateNormBound(medianMultiple: 3)
        let merged = try aggregate(updates, strategy: .uniform, normBound: bound, discounts: [2: 0.5, 5: 0.25], serverStep: (global, 0.8))
        var sgd = try ServerOptimizer(spec: .sgd(lr: 0.8))
        let stepped0 = sgd.applySGDStepIfFinite(delta: merged.delta, to: global)
        let separate = try #require(stepped0)
        let stepped = try #require(merged.stepped)
        #expect(Self.bits(stepped) == Self.bits(separate))
        #expect(try aggregate(updates, strategy: .uniform, normBound: bound).stepped == nil, "no step asked")
        var far = updates
        far[3].delta = far[3].delta.map { $0 * 100 }
        let rejecting = try aggregate(far, strategy: .uniform, normBound: bound, serverStep: (global, 0.8))
        #expect(rejecting.rejected.map(\.clientIndex) == [3] && rejecting.stepped == nil)
        // A step past Float's range is not taken here either: the caller's own step says why.
        let huge = [Float](repeating: .greatestFiniteMagnitude, count: p)
        #expect(try aggregate(updates, strategy: .uniform, normBound: bound, serverStep: (huge, 1e38)).stepped == nil)
    }

    @Test func fusedSGDStepDeclinesWhatTheSeparateStepsReport() throws {
        var sgd = try ServerOptimizer(spec: .sgd(lr: 1))
        let before = sgd
        #expect(sgd.applySGDIfFinite(delta: [1, .nan, 2], to: [0, 0, 0]) == nil, "a non-finite delta")
        #expect(sgd.applySGDIfFinite(delta: [1, .infinity], to: [0, 0]) == nil)
        #expect(sgd.applySGDIfFinite(delta: [.greatestFiniteMagnitude, 0], to: [.greatestFiniteMagnitude, 0]) == nil,
                "a step past Float's range")
        #expect(sgd.applySGDIfFinite(delta: [1, 2], to: [0, 0, 0]) == nil, "lengths differ")
        #expect(sgd.applySGDStepIfFinite(delta: [1, .nan, 2], to: [0, 0, 0]) == nil, "a non-finite delta")
        #expect(sgd.applySGDStepIfFinite(delta: [1, -.infinity], to: [0, 0]) == nil)
        #expect(sgd.applySGDStepIfFinite(delta: [.greatestFiniteMagnitude, 0], to: [.greatestFiniteMagnitude, 0]) == nil,
                "a step past Float's range")
        #expect(sgd.applySGDStepIfFinite(delta: [1, 2], to: [0, 0, 0]) == nil, "lengths differ")
        // The same inside the eight-wide part (index 3) and in the tail (index 17) of a longer vector.
        for index in [3, 17] {
            for (bad, globalValue) in [(Float.nan, Float(0)), (.infinity, 0), (-.infinity, 0), (.greatestFiniteMagnitude, .greatestFiniteMagnitude)] {
                var delta = [Float](repeating: 0.5, count: 20), global = [Float](repeating: 1, count: 20)
                delta[index] = bad
                global[index] = globalValue
                #expect(sgd.applySGDStepIfFinite(delta: delta, to: global) == nil, "\(bad) at \(index)")
            }
        }
        #expect(sgd == before, "a declined step changes nothing")
        var adam = try ServerOptimizer(spec: .fedadam(lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        #expect(adam.applySGDIfFinite(delta: [1], to: [0]) == nil, "only the SGD rule is fused")
        #expect(adam.applySGDStepIfFinite(delta: [1], to: [0]) == nil)
    }

    /// Finite floats of every magnitude: random bit patterns (subnormals, huge values, both
    /// signs, ±0) with the exponents of NaN and infinity mapped to a finite one.
    private static func anyFinite(_ rng: inout RandomStream, count: Int) -> [Float] {
        (0..<count).map { _ in
            let bits = UInt32(truncatingIfNeeded: rng.next())
            return (bits & 0x7F80_0000) == 0x7F80_0000 ? Float(bitPattern: bits & 0xBFFF_FFFF) : Float(bitPattern: bits)
        }
    }

    @Test(.enabled(if: VectorKernels.level >= 1, "the CPU has no AVX2"))
    func theAVX2WeightedSumGivesTheSwiftLoopsBits() {
        // Deltas of ordinary size and of every magnitude (overflow to inf, subnormal products),
        // 1–12 inputs (the accumulators beyond any register count), lengths with and without
        // tails, across the norm's blocks.
        var rng = RandomStream(seed: 23, purpose: .synthetic)
        for extreme in [false, true] {
            for n in [1, 2, 3, 8, 12] {
                for count in [0, 1, 7, 8, 9, 4_095, 4_096, 4_097, 12_301] {
                    let arrays = (0..<n).map { _ in extreme ? Self.anyFinite(&rng, count: count) : (0..<count).map { _ in Float(rng.normal()) } }
                    let weights = (0..<n).map { _ in Float(rng.uniform(0.01, 1)) }
                    let prescales = (0..<n).map { i -> Float in i % 3 == 1 ? 1 : Float(rng.uniform(0.1, 1)) }
                    FloatPointers.with(arrays) { inputs in
                        var swift = [Float](repeating: 0, count: count), avx2 = [Float](repeating: -1, count: count)
                        let a = swift.withUnsafeMutableBufferPointer {
                            WeightedSumKernel.runWithSquaredNorms(inputs: inputs, weights: weights, prescales: prescales, count: count,
                                                                  into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 4)!, vectorLevel: 0)
                        }
                        let b = avx2.withUnsafeMutableBufferPointer {
                            WeightedSumKernel.runWithSquaredNorms(inputs: inputs, weights: weights, prescales: prescales, count: count,
                                                                  into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 4)!, vectorLevel: 1)
                        }
                        let what = "extreme \(extreme), n \(n), count \(count)"
                        #expect(Self.bits(avx2) == Self.bits(swift), "\(what): the sums differ")
                        #expect(b.outputSquares.bitPattern == a.outputSquares.bitPattern, "\(what): \(b.outputSquares) vs \(a.outputSquares)")
                        #expect(b.inputSquares.map(\.bitPattern) == a.inputSquares.map(\.bitPattern), "\(what): the norms differ")
                        #expect(a.stepFinite == nil && b.stepFinite == nil, "\(what): no step was asked")
                        // The SGD step fused into the same pass: the separate step's bits, and
                        // declined exactly when the separate step declines.
                        guard count > 0 else { return }
                        let global = extreme ? Self.anyFinite(&rng, count: count) : (0..<count).map { _ in Float(rng.normal()) }
                        for rate in [1.0, 0.3] {
                            var fused = [Float](repeating: -1, count: count), out = [Float](repeating: -1, count: count)
                            let c = global.withUnsafeBufferPointer { g in
                                fused.withUnsafeMutableBufferPointer { next in
                                    out.withUnsafeMutableBufferPointer {
                                        WeightedSumKernel.runWithSquaredNorms(inputs: inputs, weights: weights, prescales: prescales, count: count,
                                                                              into: $0.baseAddress!,
                                                                              step: .init(global: g.baseAddress!, rate: rate, next: next.baseAddress!),
                                                                              vectorLevel: 1)
                                    }
                                }
                            }
                            #expect(Self.bits(out) == Self.bits(swift), "\(what), rate \(rate): the sum with a step differs")
                            var sgd = try! ServerOptimizer(spec: .sgd(lr: rate))
                            if let separate = sgd.applySGDStepIfFinite(delta: out, to: global) {
                                #expect(c.stepFinite == true, "\(what), rate \(rate): the fused step declined a finite step")
                                #expect(Self.bits(fused) == Self.bits(separate), "\(what), rate \(rate): the stepped models differ")
                            } else {
                                #expect(c.stepFinite == false, "\(what), rate \(rate): the fused step took a step the separate one declines")
                            }
                        }
                    }
                }
            }
        }
    }
}
