import Testing
import AviaryProtocol

@Suite struct FiniteCheckTests {
    @Test func finiteVectorsPass() {
        #expect(validateFinite([]) == nil)
        #expect(validateFinite([0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]) == nil)
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC0_0000)])
    func firstNonFiniteIndexIsFound(_ bad: Float) {
        for (n, at) in [(1, 0), (5, 4), (15, 14), (16, 15), (17, 16), (33, 31), (1023, 1000), (1024, 1023), (1025, 1024), (5000, 2049), (5000, 4999)] {
            var v = [Float](repeating: 1, count: n)
            v[at] = bad
            if at + 1 < n { v[n - 1] = bad }  // a later one must not win
            #expect(validateFinite(v) == at, "n=\(n) at=\(at)")
        }
    }
}
