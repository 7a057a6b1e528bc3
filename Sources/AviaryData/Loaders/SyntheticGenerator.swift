import AviaryMath
import Foundation

/// Synthetic(α, β) from FedProx (Li et al., 2020): per-device softmax-regression data whose
/// model heterogeneity is controlled by α and feature heterogeneity by β (both standard deviations).
///
/// Device k: u_k ~ N(0, α); W_k (60×10) and b_k (10) have entries ~ N(u_k, 1); B_k ~ N(0, β);
/// v_k (60) has entries ~ N(B_k, 1); x ~ N(v_k, Σ) with Σ diagonal, Σ_jj = j^-1.2 (j from 1);
/// y = argmax(x W_k + b_k); n_k = int(lognormal(4, 2)) + 50 samples. Each device draws from its
/// own `RandomStream(seed, .synthetic, index: k)`, so device k's data does not depend on how
/// many devices exist. No size cap: the lognormal tail rarely exceeds ~20,000 samples (~5 MB).
public enum SyntheticGenerator {
    /// Feature dimension d.
    public static let dimension = 60
    /// Number of classes.
    public static let classes = 10

    /// One device's data split into local train (first `⌊(1 − testFraction)·n⌋` samples) and test.
    public static func device(_ k: Int, alpha: Double, beta: Double, seed: UInt64,
                              testFraction: Double = 0.1) -> (train: Dataset, test: Dataset) {
        let all = samples(k, alpha: alpha, beta: beta, seed: seed)
        let trainCount = Int((1 - testFraction) * Double(all.count))
        return (all.subset(Array(0..<trainCount)), all.subset(Array(trainCount..<all.count)))
    }

    /// All samples of device `k`, owner `k`, in generation order.
    public static func samples(_ k: Int, alpha: Double, beta: Double, seed: UInt64) -> Dataset {
        var rng = RandomStream(seed: seed, purpose: .synthetic, index: UInt64(k))
        let d = dimension, c = classes
        let n = sampleCount(&rng)
        let u = rng.normal(mean: 0, std: alpha)
        let bigB = rng.normal(mean: 0, std: beta)
        let v = (0..<d).map { _ in rng.normal(mean: bigB, std: 1) }
        let w = (0..<(d * c)).map { _ in rng.normal(mean: u, std: 1) }  // row-major d × c
        let b = (0..<c).map { _ in rng.normal(mean: u, std: 1) }
        let std = (1...d).map { pow(Double($0), -0.6) }  // sqrt(j^-1.2)

        var features = [Float](repeating: 0, count: n * d)
        var labels = [Int32](repeating: 0, count: n)
        var x = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { x[j] = v[j] + std[j] * rng.normal() }
            var best = 0, bestLogit = -Double.infinity
            for cls in 0..<c {
                var z = b[cls]
                for j in 0..<d { z += x[j] * w[j * c + cls] }
                if z > bestLogit { bestLogit = z; best = cls }  // softmax is monotone: argmax of logits
            }
            labels[i] = Int32(best)
            for j in 0..<d { features[i * d + j] = Float(x[j]) }
        }
        return Dataset(features: features, labels: labels, sampleShape: [d], classes: c,
                       valueRange: nil, owners: [Int32](repeating: Int32(k), count: n))
    }

    /// int(lognormal(mean 4, sigma 2)) + 50, as FedProx's generator.
    static func sampleCount(_ rng: inout RandomStream) -> Int {
        let draw = exp(rng.normal(mean: 4, std: 2))
        return Int(min(draw, 1e9)) + 50
    }

    /// The size device `k` will have, without generating it.
    public static func sampleCount(device k: Int, seed: UInt64) -> Int {
        var rng = RandomStream(seed: seed, purpose: .synthetic, index: UInt64(k))
        return sampleCount(&rng)
    }
}
