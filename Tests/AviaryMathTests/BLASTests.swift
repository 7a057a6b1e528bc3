import Testing
@testable import AviaryMath

@Suite struct BLASTests {
    @Test func sgemmMatchesNaiveProduct() {
        let m = 3, n = 4, k = 5
        let a = (0..<(m * k)).map { Float($0) * 0.5 - 2 }
        let b = (0..<(k * n)).map { Float($0 % 7) - 3 }
        var c = [Float](repeating: 1, count: m * n)
        BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 2, a: a, lda: k, b: b, ldb: n, beta: 1, c: &c, ldc: n)
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
            #expect(c[i * n + j] == 2 * s + 1)
        } }
    }
}
