import Foundation
import AviaryMath
@testable import AviaryNN

/// Naive double-precision reference layers (direct loops, no im2col, NCHW throughout): the
/// ground truth the engine's Float layers and finite differences are checked against.
enum Reference {
    /// (B, O) = x (B, I) · W (O, I)ᵀ + b
    static func dense(_ x: [Double], _ w: [Double], _ b: [Double], batch: Int, inputs: Int, outputs: Int) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outputs)
        for n in 0..<batch { for o in 0..<outputs {
            var s = b[o]
            for i in 0..<inputs { s += x[n * inputs + i] * w[o * inputs + i] }
            y[n * outputs + o] = s
        } }
        return y
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }

    /// NCHW stride-1 convolution with zero padding `pad`; weight (O, C, K, K).
    static func conv(_ x: [Double], _ w: [Double], _ b: [Double], batch: Int, channels: Int, height: Int, width: Int,
                     outChannels: Int, kernel: Int, pad: Int) -> [Double] {
        let ho = height + 2 * pad - kernel + 1, wo = width + 2 * pad - kernel + 1
        var y = [Double](repeating: 0, count: batch * outChannels * ho * wo)
        for n in 0..<batch { for o in 0..<outChannels { for oy in 0..<ho { for ox in 0..<wo {
            var s = b[o]
            for c in 0..<channels { for ky in 0..<kernel { for kx in 0..<kernel {
                let iy = oy + ky - pad, ix = ox + kx - pad
                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                s += w[((o * channels + c) * kernel + ky) * kernel + kx] * x[((n * channels + c) * height + iy) * width + ix]
            } } }
            y[((n * outChannels + o) * ho + oy) * wo + ox] = s
        } } } }
        return y
    }

    /// 2×2 stride-2 max-pool (floor) over `planes` H×W planes.
    static func maxPool(_ x: [Double], planes: Int, height: Int, width: Int) -> [Double] {
        let ho = height / 2, wo = width / 2
        var y = [Double](repeating: 0, count: planes * ho * wo)
        for p in 0..<planes { for oy in 0..<ho { for ox in 0..<wo {
            var m = -Double.infinity
            for dy in 0..<2 { for dx in 0..<2 { m = max(m, x[(p * height + oy * 2 + dy) * width + ox * 2 + dx]) } }
            y[(p * ho + oy) * wo + ox] = m
        } } }
        return y
    }

    /// Mean softmax cross-entropy, computed directly (not via log-sum-exp) in Double.
    static func meanCrossEntropy(_ z: [Double], _ labels: [Int32], classes: Int) -> Double {
        let batch = labels.count
        var total = 0.0
        for n in 0..<batch {
            let row = z[(n * classes)..<((n + 1) * classes)]
            let m = row.max()!
            let sum = row.reduce(0) { $0 + exp($1 - m) }
            total += -(z[n * classes + Int(labels[n])] - m - log(sum))
        }
        return total / Double(batch)
    }

    /// Logits of a whole model from its flat parameters, following the spec's documented architecture.
    static func logits(spec: ModelSpec, layout: ParameterLayout, params: [Double], input: [Double], batch: Int) -> [Double] {
        func t(_ name: String) -> [Double] {
            let info = layout.tensor(named: name)!
            return Array(params[info.offset..<(info.offset + info.count)])
        }
        switch spec {
        case let .logreg(inputs, classes):
            return dense(input, t("fc.weight"), t("fc.bias"), batch: batch, inputs: inputs, outputs: classes)
        case let .mlp(inputs, hidden, classes):
            var x = input, width = inputs
            for (i, h) in hidden.enumerated() {
                x = relu(dense(x, t("fc\(i + 1).weight"), t("fc\(i + 1).bias"), batch: batch, inputs: width, outputs: h))
                width = h
            }
            let last = hidden.count + 1
            return dense(x, t("fc\(last).weight"), t("fc\(last).bias"), batch: batch, inputs: width, outputs: classes)
        case let .cnn(channels, height, width, classes):
            var x = relu(conv(input, t("conv1.weight"), t("conv1.bias"), batch: batch, channels: channels,
                              height: height, width: width, outChannels: 32, kernel: 5, pad: 2))
            x = maxPool(x, planes: batch * 32, height: height, width: width)
            let h2 = height / 2, w2 = width / 2
            x = relu(conv(x, t("conv2.weight"), t("conv2.bias"), batch: batch, channels: 32,
                          height: h2, width: w2, outChannels: 64, kernel: 5, pad: 2))
            x = maxPool(x, planes: batch * 64, height: h2, width: w2)
            let flat = 64 * (h2 / 2) * (w2 / 2)
            x = relu(dense(x, t("fc1.weight"), t("fc1.bias"), batch: batch, inputs: flat, outputs: 512))
            return dense(x, t("fc2.weight"), t("fc2.bias"), batch: batch, inputs: 512, outputs: classes)
        case let .resnet(r):
            return resnet(r, t, input: input, batch: batch)
        case let .charLSTM(c):
            return charLSTM(c, t, input: input, batch: batch)
        case .external:
            fatalError("the reference follows the built-in models' documented architectures; an external model has none here")
        }
    }

    /// Central difference ∂f/∂x_i in Double for each index in `indices`.
    static func numericalGradient(_ f: ([Double]) -> Double, at x: [Double], indices: [Int], step h: Double = 1e-6) -> [Double] {
        var y = x
        return indices.map { i in
            y[i] = x[i] + h
            let up = f(y)
            y[i] = x[i] - h
            let down = f(y)
            y[i] = x[i]
            return (up - down) / (2 * h)
        }
    }
}

/// Shared helpers for NN tests.
enum Fixtures {
    /// Deterministic uniform values in [low, high).
    static func uniform(_ count: Int, seed: UInt64, low: Double = -1, high: Double = 1) -> [Float] {
        var rng = RandomStream(seed: seed, purpose: .synthetic)
        return (0..<count).map { _ in Float(rng.uniform(low, high)) }
    }

    static func labels(_ count: Int, classes: Int, seed: UInt64) -> [Int32] {
        var rng = RandomStream(seed: seed, purpose: .synthetic, index: 1)
        return (0..<count).map { _ in Int32(rng.nextInt(below: classes)) }
    }

    /// Up to `perTensor` evenly spread indices of each tensor, always including its first and last.
    static func sampleIndices(_ layout: ParameterLayout, perTensor: Int) -> [Int] {
        layout.tensors.flatMap { t -> [Int] in
            if t.count <= perTensor { return Array(t.offset..<(t.offset + t.count)) }
            return (0..<perTensor).map { t.offset + $0 * (t.count - 1) / (perTensor - 1) }
        }
    }

    /// |a − r| ≤ atol + rtol·|r| for every pair; returns the offending indices for the message.
    static func mismatches(_ actual: [Double], _ reference: [Double], atol: Double, rtol: Double) -> [(Int, Double, Double)] {
        zip(actual, reference).enumerated().compactMap { i, p in
            abs(p.0 - p.1) <= atol + rtol * abs(p.1) ? nil : (i, p.0, p.1)
        }
    }
}
