import Testing
@testable import AviaryMerge
import AviaryMath

/// The SIMD kernels against plain references: sorting networks against `sort`, the trimmed-mean
/// kernel against the scalar quickselect kernel it replaced (bit for bit, hits included).
@Suite struct KernelTests {
    /// Values with many ties (a small set including ±0) mixed with normal samples.
    private static func values(_ count: Int, _ rng: inout RandomStream, tieHeavy: Bool) -> [Float] {
        let pool: [Float] = [-2, -1, -0.0, 0, 0.5, 1, 3]
        return (0..<count).map { _ in
            tieHeavy && rng.nextInt(below: 2) == 0 ? pool[rng.nextInt(below: pool.count)] : Float(rng.normal())
        }
    }

    @Test func fullNetworkSortsEveryLane() {
        var rng = RandomStream(seed: 5, purpose: .synthetic)
        for n in 1...40 {
            let network = SortingNetwork(count: n)
            for _ in 0..<20 {
                let lanes = (0..<16).map { _ in (0..<n).map { _ in Float(rng.nextInt(below: 9)) - 4 } }
                var vectors = (0..<n).map { i in SIMD16<Float>((0..<16).map { lanes[$0][i] }) }
                vectors.withUnsafeMutableBufferPointer { network.apply($0.baseAddress!) }
                for l in 0..<16 { #expect(vectors.map { $0[l] } == lanes[l].sorted(), "n = \(n), lane \(l)") }
            }
        }
    }

    @Test func prunedNetworkPlacesTheWantedRanks() {
        var rng = RandomStream(seed: 6, purpose: .synthetic)
        for n in 1...40 {
            #expect(SortingNetwork(count: n).size == SortingNetwork.mergeExchange(n).count)
            for trim in 0...((n - 1) / 2) {
                let ranks = [trim, n - 1 - trim]
                let network = SortingNetwork(count: n, ranks: ranks)
                #expect(network.size <= SortingNetwork(count: n).size)
                if n >= 16 && trim == (n - 1) / 2 { #expect(network.size < SortingNetwork(count: n).size, "a median needs less than a sort") }
                for _ in 0..<10 {
                    let column = (0..<n).map { _ in Float(rng.nextInt(below: 2 * n + 1) - n) * 0.5 }
                    var vectors = column.map { SIMD16<Float>(repeating: $0) * SIMD16<Float>(1, -1, 2, -2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1) }
                    vectors.withUnsafeMutableBufferPointer { network.apply($0.baseAddress!) }
                    let up = column.sorted(), down = column.map { -$0 }.sorted()
                    for r in ranks {
                        #expect(vectors[r][0] == up[r], "n = \(n), rank \(r)")
                        #expect(vectors[r][1] == down[r], "n = \(n), rank \(r)")
                        #expect(vectors[r][3] == 2 * down[r], "n = \(n), rank \(r)")
                    }
                }
            }
        }
    }

    @Test func keysOrderLikeFloats() {
        let floats: [Float] = [-.greatestFiniteMagnitude, -3, -1, -.leastNonzeroMagnitude, -0.0, 0,
                               .leastNonzeroMagnitude, 1e-30, 2, .greatestFiniteMagnitude, -7, 5, 0.25, -0.25, 9, 1]
        let v = SIMD16<Float>(floats)
        let keys = CoordinateTrimKernel.key(v)
        for a in 0..<16 {
            for b in 0..<16 where floats[a] != floats[b] { #expect((keys[a] < keys[b]) == (floats[a] < floats[b])) }
        }
        #expect(keys[4] < keys[5], "-0 ranks below +0")
        #expect(CoordinateTrimKernel.value(keys).indices.allSatisfy { CoordinateTrimKernel.value(keys)[$0].bitPattern == floats[$0].bitPattern })
    }

    /// Runs both kernels on the same inputs; returns (new, reference) outputs and hits.
    private static func both(_ columns: [[Float]], scales: [Float], trim: Int, threads: Int = 1)
        -> (out: [Float], hits: [Int], refOut: [Float], refHits: [Int]) {
        let count = columns[0].count
        var out = [Float](repeating: .nan, count: count), refOut = out
        var hits: [Int] = [], refHits: [Int] = []
        FloatPointers.with(columns) { inputs in
            out.withUnsafeMutableBufferPointer { o in
                CoordinateTrimKernel.run(inputs: inputs, scales: scales, count: count, trim: trim,
                                         into: o.baseAddress!, hits: &hits, threads: threads)
            }
            refOut.withUnsafeMutableBufferPointer { o in
                ReferenceTrimKernel.run(inputs: inputs, scales: scales, count: count, trim: trim,
                                        into: o.baseAddress!, hits: &refHits)
            }
        }
        return (out, hits, refOut, refHits)
    }

    @Test func trimKernelMatchesTheScalarReferenceForSmallN() {
        var rng = RandomStream(seed: 7, purpose: .synthetic)
        for n in 1...20 {
            for tieHeavy in [false, true] {
                // 37 coordinates: two full groups of 16 and a partial one.
                let columns = (0..<n).map { _ in Self.values(37, &rng, tieHeavy: tieHeavy) }
                let scales = (0..<n).map { i in i % 3 == 1 ? Float(0.5 + rng.uniform(0, 1)) : 1 }
                for trim in 0...((n - 1) / 2) {
                    let r = Self.both(columns, scales: scales, trim: trim)
                    #expect(r.out.map(\.bitPattern) == r.refOut.map(\.bitPattern), "n = \(n), trim = \(trim), ties = \(tieHeavy)")
                    #expect(r.hits == r.refHits, "n = \(n), trim = \(trim), ties = \(tieHeavy)")
                    #expect(r.hits.reduce(0, +) == 37 * (n - 2 * trim))
                }
            }
        }
    }

    @Test(arguments: [31, 64, 100])
    func trimKernelMatchesTheScalarReferenceAcrossBlocks(n: Int) {
        var rng = RandomStream(seed: UInt64(n), purpose: .synthetic)
        // Longer than one tile block (256 KiB / 4n coordinates), with a ragged end.
        let count = (256 * 1024) / (4 * n) * 2 + 21
        for tieHeavy in [false, true] {
            let columns = (0..<n).map { _ in Self.values(count, &rng, tieHeavy: tieHeavy) }
            let scales = (0..<n).map { i in i % 4 == 0 ? Float(0.25) : 1 }
            for trim in [0, 1, n / 10, (n - 1) / 2] {
                let r = Self.both(columns, scales: scales, trim: trim)
                #expect(r.out.map(\.bitPattern) == r.refOut.map(\.bitPattern), "n = \(n), trim = \(trim), ties = \(tieHeavy)")
                #expect(r.hits == r.refHits, "n = \(n), trim = \(trim), ties = \(tieHeavy)")
            }
        }
    }

    @Test(arguments: [1, 2, 3])
    func threadCountDoesNotChangeTheResult(threads: Int) {
        var rng = RandomStream(seed: 8, purpose: .synthetic)
        // Above the parallel threshold, and not a multiple of 16 · threads.
        let count = CoordinateTrimKernel.parallelThreshold + 1_001
        let columns = (0..<7).map { _ in Self.values(count, &rng, tieHeavy: true) }
        let scales: [Float] = [1, 0.5, 1, 1, 2, 1, 1]
        for trim in [0, 1, 3] {
            let r = Self.both(columns, scales: scales, trim: trim, threads: threads)
            #expect(r.out.map(\.bitPattern) == r.refOut.map(\.bitPattern), "threads = \(threads), trim = \(trim)")
            #expect(r.hits == r.refHits, "threads = \(threads), trim = \(trim)")
        }
    }

    @Test(arguments: [1, 2, 4, 5, 8, 9, 13])
    func weightedSumFollowsTheDocumentedOrderBitForBit(n: Int) {
        var rng = RandomStream(seed: UInt64(100 + n), purpose: .synthetic)
        // Crosses block boundaries and ends mid-vector.
        let count = 2 * WeightedSumKernel.blockSize + 1_003
        let columns = (0..<n).map { _ in Self.values(count, &rng, tieHeavy: false) }
        let weights = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
        var out = [Float](repeating: .nan, count: count)
        FloatPointers.with(columns) { inputs in
            out.withUnsafeMutableBufferPointer { o in
                WeightedSumKernel.run(inputs: inputs, weights: weights, count: count, into: o.baseAddress!)
            }
        }
        // ((w0·x0 + w1·x1) + w2·x2) + …, each product rounded: no FMA, no reassociation.
        let expected = (0..<count).map { j in
            var s = weights[0] * columns[0][j]
            for i in 1..<n {
                let product = weights[i] * columns[i][j]
                s = s + product
            }
            return s
        }
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func allEqualValuesKeepTheMiddlePositions() {
        // Every value ties: ranks follow input position, so the middle inputs survive.
        let columns = [[Float]](repeating: [0, 0, 0], count: 7)
        let r = Self.both(columns, scales: [Float](repeating: 1, count: 7), trim: 2)
        #expect(r.out == [0, 0, 0])
        #expect(r.hits == [0, 0, 3, 3, 3, 0, 0])
        #expect(r.refHits == r.hits)
    }
}
