import Foundation
import Testing
@testable import AviaryData

@Suite struct SyntheticGeneratorTests {
    @Test func deterministicShapesAndLabels() {
        let a = SyntheticGenerator.device(3, alpha: 1, beta: 1, seed: 7)
        let b = SyntheticGenerator.device(3, alpha: 1, beta: 1, seed: 7)
        let c = SyntheticGenerator.device(3, alpha: 1, beta: 1, seed: 8)
        #expect(a.train == b.train && a.test == b.test)
        #expect(a.train.features != c.train.features)
        #expect(a.train.sampleShape == [60] && a.train.classes == 10)
        #expect(a.train.labels.allSatisfy { (0..<10).contains($0) })
        #expect(a.train.owners!.allSatisfy { $0 == 3 } && a.test.owners!.allSatisfy { $0 == 3 })
        let n = SyntheticGenerator.sampleCount(device: 3, seed: 7)
        #expect(n >= 50 && a.train.count + a.test.count == n)
        #expect(a.train.count == Int(0.9 * Double(n)))  // FedProx: train_len = int(0.9 · n)
    }

    @Test func sampleCountsFollowLognormalFourTwoPlusFifty() {
        // log(n − 50) ~ N(4, 2) before truncation: check two quantiles over 4,000 devices.
        let extra = (0..<4000).map { SyntheticGenerator.sampleCount(device: $0, seed: 11) - 50 }
        #expect(extra.allSatisfy { $0 >= 0 })
        let belowMedian = Double(extra.filter { Double($0) < exp(4.0) }.count) / 4000
        let belowPlusOneSigma = Double(extra.filter { Double($0) < exp(6.0) }.count) / 4000
        #expect(abs(belowMedian - 0.5) < 0.03)
        #expect(abs(belowPlusOneSigma - 0.8413) < 0.03)
    }

    @Test func withinDeviceVarianceDecaysAsJToTheMinusOnePointTwo() {
        // Pool within-device variances over devices; Σ_jj = j^-1.2 regardless of α and β.
        var sumSq = [Double](repeating: 0, count: 60)
        var dof = 0
        for k in 0..<30 {
            let d = SyntheticGenerator.samples(k, alpha: 1, beta: 1, seed: 5)
            guard d.count > 1 else { continue }
            let features = d.features  // one copy: `features` materialises the view on each access
            for j in 0..<60 {
                let column = (0..<d.count).map { Double(features[$0 * 60 + j]) }
                let mean = column.reduce(0, +) / Double(d.count)
                sumSq[j] += column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            }
            dof += d.count - 1
        }
        #expect(dof > 3000)
        let variance = sumSq.map { $0 / Double(dof) }
        for j in [1, 2, 10, 30, 60] {
            let expected = pow(Double(j), -1.2)
            #expect(abs(variance[j - 1] / expected - 1) < 0.1, "dimension \(j): \(variance[j - 1]) vs \(expected)")
        }
        // Least-squares slope of log variance on log j.
        let xs = (1...60).map { log(Double($0)) }, ys = variance.map { log($0) }
        let mx = xs.reduce(0, +) / 60, my = ys.reduce(0, +) / 60
        let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        #expect(abs(slope + 1.2) < 0.05)
    }

    @Test func betaControlsSpreadOfDeviceMeans() {
        // A device's grand mean ≈ mean(v_k) ≈ B_k + N(0, 1/60) with B_k ~ N(0, β).
        func spread(beta: Double) -> Double {
            let means = (0..<40).map { k -> Double in
                let d = SyntheticGenerator.samples(k, alpha: 0, beta: beta, seed: 9)
                return d.features.reduce(0) { $0 + Double($1) } / Double(d.features.count)
            }
            let m = means.reduce(0, +) / 40
            return means.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 39
        }
        let flat = spread(beta: 0), wide = spread(beta: 3)
        #expect(flat < 0.1)
        #expect(wide > 4 && wide < 16)  // ≈ 9 with 40 devices
    }
}
