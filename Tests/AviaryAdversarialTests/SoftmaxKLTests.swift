import AviaryMath
import Foundation
import Testing
@testable import AviaryAdversarial

@Suite struct SoftmaxKLTests {
    @Test func klOfIdenticalLogitsIsZeroAndGradientsVanish() {
        let z: [Float] = [0.3, -1.2, 2.0, 0.1]
        var dw = [Float](repeating: 9, count: 4), dz = [Float](repeating: 9, count: 4)
        let kl = SoftmaxKL.divergence(cleanLogits: z, adversarialLogits: z, batch: 1, classes: 4, scale: 1,
                                      adversarialGradient: &dw, cleanGradient: &dz)
        #expect(abs(kl) < 1e-7)
        #expect(dw.allSatisfy { abs($0) < 1e-7 } && dz.allSatisfy { abs($0) < 1e-7 })
    }

    @Test func handComputedTwoClassValue() {
        // p = softmax(0, 0) = (½, ½), q = softmax(0, ln 3) = (¼, ¾): KL = ½ln2 + ½ln(2/3).
        let kl = SoftmaxKL.divergence(cleanLogits: [0, 0], adversarialLogits: [0, Float(log(3.0))], batch: 1, classes: 2,
                                      scale: 1, adversarialGradient: nil, cleanGradient: nil)
        let expected = 0.5 * log(2.0) + 0.5 * log(2.0 / 3.0)
        #expect(abs(kl - expected) < 1e-6)
    }

    /// Central differences in Float with h = 1e-2; tolerance 2e-3 absolute on gradients of size ~0.1–1.
    @Test func gradientsMatchFiniteDifferences() {
        var rng = RandomStream(seed: 11, purpose: .other, index: 0)
        let batch = 2, classes = 4
        let z = (0..<8).map { _ in Float(rng.uniform(-2, 2)) }
        let w = (0..<8).map { _ in Float(rng.uniform(-2, 2)) }
        var dw = [Float](repeating: 0, count: 8), dz = [Float](repeating: 0, count: 8)
        SoftmaxKL.divergence(cleanLogits: z, adversarialLogits: w, batch: batch, classes: classes, scale: 1,
                             adversarialGradient: &dw, cleanGradient: &dz)
        func kl(_ a: [Float], _ b: [Float]) -> Double {
            SoftmaxKL.divergence(cleanLogits: a, adversarialLogits: b, batch: batch, classes: classes, scale: 1,
                                 adversarialGradient: nil, cleanGradient: nil)
        }
        let h: Float = 1e-2
        for i in 0..<8 {
            var zp = z, zm = z, wp = w, wm = w
            zp[i] += h; zm[i] -= h; wp[i] += h; wm[i] -= h
            let numericZ = (kl(zp, w) - kl(zm, w)) / Double(2 * h)
            let numericW = (kl(z, wp) - kl(z, wm)) / Double(2 * h)
            #expect(abs(numericZ - Double(dz[i])) < 2e-3, "∂/∂z[\(i)]")
            #expect(abs(numericW - Double(dw[i])) < 2e-3, "∂/∂z′[\(i)]")
        }
    }
}
