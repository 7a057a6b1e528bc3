import Foundation
@testable import AviaryNN

/// Double references for the residual-network layers, NCHW throughout, written from the
/// definitions (direct loops), independent of the engine's CNHW layout and im2col.
extension Reference {
    /// NCHW convolution with stride and zero padding; weight (O, C, K, K); no bias when `b` is nil.
    static func conv(_ x: [Double], _ w: [Double], _ b: [Double]?, batch: Int, channels: Int, height: Int, width: Int,
                     outChannels: Int, kernel: Int, pad: Int, stride: Int) -> [Double] {
        let ho = (height + 2 * pad - kernel) / stride + 1, wo = (width + 2 * pad - kernel) / stride + 1
        var y = [Double](repeating: 0, count: batch * outChannels * ho * wo)
        for n in 0..<batch { for o in 0..<outChannels { for oy in 0..<ho { for ox in 0..<wo {
            var s = b?[o] ?? 0
            for c in 0..<channels { for ky in 0..<kernel { for kx in 0..<kernel {
                let iy = oy * stride + ky - pad, ix = ox * stride + kx - pad
                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                s += w[((o * channels + c) * kernel + ky) * kernel + kx] * x[((n * channels + c) * height + iy) * width + ix]
            } } }
            y[((n * outChannels + o) * ho + oy) * wo + ox] = s
        } } } }
        return y
    }

    /// GroupNorm on NCHW: per sample and group of C/G channels, (x − mean)/√(var + ε)·γ_c + β_c
    /// with the biased variance (as PyTorch).
    static func groupNorm(_ x: [Double], _ gamma: [Double], _ beta: [Double], batch: Int, channels: Int, plane: Int,
                          groups: Int, eps: Double = 1e-5) -> [Double] {
        var y = x
        let per = channels / groups, n = Double(per * plane)
        for b in 0..<batch { for g in 0..<groups {
            let range = ((b * channels + g * per) * plane)..<((b * channels + (g + 1) * per) * plane)
            let mean = x[range].reduce(0, +) / n
            let variance = x[range].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            for i in range {
                let c = i / plane % channels
                y[i] = (x[i] - mean) / (variance + eps).squareRoot() * gamma[c] + beta[c]
            }
        } }
        return y
    }

    /// NCHW → (B, C): the mean of each plane.
    static func globalAveragePool(_ x: [Double], batch: Int, channels: Int, plane: Int) -> [Double] {
        (0..<(batch * channels)).map { i in x[(i * plane)..<((i + 1) * plane)].reduce(0, +) / Double(plane) }
    }

    /// The ResNet of `ResNetSpec`'s documentation, from the named tensors.
    static func resnet(_ r: ResNetSpec, _ t: (String) -> [Double], input: [Double], batch: Int) -> [Double] {
        func convGN(_ x: [Double], _ conv: String, _ norm: String, _ c: Int, _ o: Int, _ h: Int, _ w: Int,
                    kernel: Int, stride: Int) -> ([Double], Int, Int) {
            let ho = (h + 2 * (kernel / 2) - kernel) / stride + 1, wo = (w + 2 * (kernel / 2) - kernel) / stride + 1
            let y = Reference.conv(x, t("\(conv).weight"), nil, batch: batch, channels: c, height: h, width: w,
                                   outChannels: o, kernel: kernel, pad: kernel / 2, stride: stride)
            return (groupNorm(y, t("\(norm).weight"), t("\(norm).bias"), batch: batch, channels: o, plane: ho * wo,
                              groups: r.groups), ho, wo)
        }
        var (x, h, w) = convGN(input, "conv1", "gn1", r.channels, r.baseWidth, r.height, r.width, kernel: 3, stride: 1)
        x = relu(x)
        var c = r.baseWidth
        for stage in 0..<3 {
            let o = r.baseWidth << stage
            for block in 0..<r.blocksPerStage {
                let stride = stage > 0 && block == 0 ? 2 : 1, name = "layer\(stage + 1).\(block)"
                var (y, ho, wo) = convGN(x, "\(name).conv1", "\(name).gn1", c, o, h, w, kernel: 3, stride: stride)
                (y, _, _) = convGN(relu(y), "\(name).conv2", "\(name).gn2", o, o, ho, wo, kernel: 3, stride: 1)
                let shortcut = stride != 1 || c != o
                    ? convGN(x, "\(name).shortcut.0", "\(name).shortcut.1", c, o, h, w, kernel: 1, stride: stride).0 : x
                x = relu(zip(y, shortcut).map { $0 + $1 })
                (h, w, c) = (ho, wo, o)
            }
        }
        let pooled = globalAveragePool(x, batch: batch, channels: c, plane: h * w)
        return dense(pooled, t("fc.weight"), t("fc.bias"), batch: batch, inputs: c, outputs: r.classes)
    }
}
