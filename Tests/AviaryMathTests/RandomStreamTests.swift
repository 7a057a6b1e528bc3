import Testing
@testable import AviaryMath

@Suite struct RandomStreamTests {
    @Test func sameSeedSameSequence() {
        var a = RandomStream(seed: 42, purpose: .shuffle, index: 3)
        var b = RandomStream(seed: 42, purpose: .shuffle, index: 3)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
    }

    @Test func purposesAndIndicesAreSeparateStreams() {
        var a = RandomStream(seed: 42, purpose: .shuffle, index: 0)
        var b = RandomStream(seed: 42, purpose: .partition, index: 0)
        var c = RandomStream(seed: 42, purpose: .shuffle, index: 1)
        let xa = (0..<4).map { _ in a.next() }
        #expect(xa != (0..<4).map { _ in b.next() })
        #expect(xa != (0..<4).map { _ in c.next() })
    }

    @Test func uniformMeanAndNormalMoments() {
        var r = RandomStream(seed: 7)
        let n = 200_000
        var s = 0.0, s2 = 0.0, u = 0.0
        for _ in 0..<n { let x = r.normal(); s += x; s2 += x * x; u += r.nextDouble() }
        #expect(abs(s / Double(n)) < 0.01)
        #expect(abs(s2 / Double(n) - 1) < 0.02)
        #expect(abs(u / Double(n) - 0.5) < 0.005)
    }

    @Test func nextIntCoversRangeUniformly() {
        var r = RandomStream(seed: 1)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.nextInt(below: 7)] += 1 }
        for c in counts { #expect(abs(c - 10_000) < 500) }
    }

    @Test func gammaMeanMatchesShape() {
        var r = RandomStream(seed: 3)
        for shape in [0.3, 1.0, 4.5] {
            var s = 0.0
            for _ in 0..<50_000 { s += r.gamma(shape: shape) }
            #expect(abs(s / 50_000 - shape) < 0.05 * max(1, shape), "shape \(shape)")
        }
    }

    @Test func dirichletIsFiniteAndNormalisedAtTinyAlpha() {
        var r = RandomStream(seed: 9)
        for _ in 0..<1000 {
            let p = r.dirichlet([Double](repeating: 0.01, count: 50))
            #expect(p.allSatisfy { $0.isFinite && $0 >= 0 })
            #expect(abs(p.reduce(0, +) - 1) < 1e-9)
        }
    }

    @Test func permutationIsAPermutation() {
        var r = RandomStream(seed: 5)
        let p = r.permutation(1000)
        #expect(Set(p).count == 1000 && p.min() == 0 && p.max() == 999)
        #expect(p != Array(0..<1000))
    }
}
