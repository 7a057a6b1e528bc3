import AviaryMath
import AviaryNN
@testable import AviaryAdversarial

/// Small synthetic classification data: uniform features in [0, 1] (with exact 0s and 1s so
/// clamping is exercised) and labels from a fixed linear rule, so a network can learn them.
struct SyntheticData {
    let features: [Float]
    let labels: [Int32]
    let inputs: Int

    init(samples: Int, inputs: Int, classes: Int, seed: UInt64) {
        var rng = RandomStream(seed: seed, purpose: .synthetic, index: 0)
        var x = [Float](repeating: 0, count: samples * inputs)
        for i in x.indices {
            let u = rng.nextFloat()
            x[i] = u < 0.1 ? 0 : (u > 0.9 ? 1 : u)
        }
        var y = [Int32](repeating: 0, count: samples)
        for s in 0..<samples {
            var best = 0, bestScore = -Float.infinity
            for c in 0..<classes {
                var score: Float = 0
                for j in 0..<inputs where (j + c) % classes == 0 { score += x[s * inputs + j] }
                if score > bestScore { bestScore = score; best = c }
            }
            y[s] = Int32(best)
        }
        features = x; labels = y; self.inputs = inputs
    }
}

/// A network with seeded PyTorch-default init.
func makeNetwork(_ spec: ModelSpec, maxBatch: Int = 32, seed: UInt64 = 1, learningRate: Float = 0.05,
                 momentum: Float = 0) throws -> Network {
    // Swift Testing runs tests in parallel; OpenBLAS's own threads on top of that thrash the
    // 2 cores (a 17 s test took 4 min), so every test network computes on one BLAS thread.
    BLAS.setThreads(1)
    let net = try Network(spec: spec, maxBatch: maxBatch)
    net.initialise(seed: seed)
    net.setOptimizer(SGDConfig(learningRate: learningRate, momentum: momentum), anchor: nil)
    return net
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Runs an attack on a whole array of samples and returns the adversarial array.
func perturbAll(_ attacker: Attacker, features: [Float], labels: [Int32], inputs: Int, seed: UInt64) -> [Float] {
    var out = [Float](repeating: .nan, count: features.count)
    let n = labels.count
    features.withUnsafeBufferPointer { x in
        labels.withUnsafeBufferPointer { y in
            out.withUnsafeMutableBufferPointer { o in
                var rng = RandomStream(seed: seed, purpose: .attack, index: 0)
                attacker.perturb(inputs: x.baseAddress!, labels: y.baseAddress!, batch: n, into: o.baseAddress!, rng: &rng)
            }
        }
    }
    return out
}
