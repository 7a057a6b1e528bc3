/// Group normalisation (Wu & He 2018) over CNHW activations: for each sample, the channels are
/// cut into `groups` equal groups and each group (its channels × H·W values) is normalised to
/// zero mean and unit variance, then scaled and shifted per channel: y = γ_c · x̂ + β_c.
/// Unlike BatchNorm it keeps no running statistics, so training and inference agree and a
/// client's statistics never leak into the global model (Hsieh et al. 2020).
///
/// Element (c, b, p) sits at (c·B + b)·P + p. The forward pass keeps each (sample, group)'s
/// mean and 1/σ for the backward pass; the input itself stays in its activation slot.
enum GroupNorm {
    /// PyTorch's default ε.
    static let epsilon: Float = 1e-5

    /// out (C, B, P) = γ · (inp − μ_{b,g}) / √(σ²_{b,g} + ε) + β; writes μ and 1/σ into
    /// `statistics` (B·G pairs: mean, then inverse deviation) when given.
    static func forward(
        out: UnsafeMutablePointer<Float>, statistics: UnsafeMutablePointer<Float>?,
        inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        batch: Int, channels: Int, plane: Int, groups: Int
    ) {
        let perGroup = channels / groups
        let n = Float(perGroup * plane)
        for b in 0..<batch {
            for g in 0..<groups {
                // Two passes (mean, then squared deviations) for the accuracy a one-pass
                // E[x²] − E[x]² loses on activations with a large mean.
                var sum: Float = 0
                for c in (g * perGroup)..<((g + 1) * perGroup) { sum += fastSum(inp + (c * batch + b) * plane, plane) }
                let mean = sum / n
                var squares: Float = 0
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    let x = inp + (c * batch + b) * plane
                    var acc = SIMD8<Float>(repeating: 0)
                    var i = 0
                    while i + 8 <= plane {
                        let d = UnsafeRawPointer(x).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - SIMD8(repeating: mean)
                        acc += d * d
                        i += 8
                    }
                    var s = acc.sum()
                    while i < plane { let d = x[i] - mean; s += d * d; i += 1 }
                    squares += s
                }
                let inverse = 1 / (squares / n + epsilon).squareRoot()
                if let statistics {
                    statistics[2 * (b * groups + g)] = mean
                    statistics[2 * (b * groups + g) + 1] = inverse
                }
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    let x = inp + (c * batch + b) * plane, y = out + (c * batch + b) * plane
                    let scale = gamma[c] * inverse, shift = beta[c] - mean * scale
                    for i in 0..<plane { y[i] = x[i] * scale + shift }
                }
            }
        }
    }

    /// dInp (C, B, P) = ∂L/∂x, overwritten (when given); then sink.weight (γ) += scale · Σ dOut·x̂ and
    /// sink.bias (β) += scale · Σ dOut per channel. With x̂ the normalised input and ĝ = γ·dOut,
    /// ∂L/∂x = (1/σ) · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)), the means taken over the group.
    /// The input gradient is computed first so a sink pointing at γ (folded SGD) is safe.
    static func backward(
        dInp: UnsafeMutablePointer<Float>?, sink: ParameterSink?,
        dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, statistics: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        batch: Int, channels: Int, plane: Int, groups: Int
    ) {
        let perGroup = channels / groups
        let n = Float(perGroup * plane)
        if let dInp {
            for b in 0..<batch {
                for g in 0..<groups {
                    let mean = statistics[2 * (b * groups + g)], inverse = statistics[2 * (b * groups + g) + 1]
                    // Σ ĝ and Σ ĝ·x̂ over the group.
                    var sumG: Float = 0, sumGX: Float = 0
                    for c in (g * perGroup)..<((g + 1) * perGroup) {
                        let x = inp + (c * batch + b) * plane, dy = dOut + (c * batch + b) * plane
                        var s: Float = 0, sx: Float = 0
                        for i in 0..<plane {
                            s += dy[i]
                            sx += dy[i] * (x[i] - mean)
                        }
                        sumG += gamma[c] * s
                        sumGX += gamma[c] * sx * inverse
                    }
                    let meanG = sumG / n, meanGX = sumGX / n
                    for c in (g * perGroup)..<((g + 1) * perGroup) {
                        let x = inp + (c * batch + b) * plane, dy = dOut + (c * batch + b) * plane
                        let dx = dInp + (c * batch + b) * plane
                        let gc = gamma[c]
                        for i in 0..<plane {
                            let xhat = (x[i] - mean) * inverse
                            dx[i] = inverse * (gc * dy[i] - meanG - xhat * meanGX)
                        }
                    }
                }
            }
        }
        guard let sink else { return }
        for c in 0..<channels {
            let g = c / perGroup
            var dGamma: Float = 0, dBeta: Float = 0
            for b in 0..<batch {
                let mean = statistics[2 * (b * groups + g)], inverse = statistics[2 * (b * groups + g) + 1]
                let x = inp + (c * batch + b) * plane, dy = dOut + (c * batch + b) * plane
                var sx: Float = 0
                for i in 0..<plane { sx += dy[i] * (x[i] - mean) }
                dGamma += sx * inverse
                dBeta += fastSum(dy, plane)
            }
            sink.weight[c] += sink.scale * dGamma
            sink.bias?[c] += sink.scale * dBeta
        }
    }
}
