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

    /// out (C, B, P) = γ · (inp − μ_{b,g}) / √(σ²_{b,g} + ε) + β, or max(that, 0) when `rectified`
    /// (a following ReLU fused in); writes μ and 1/σ into `statistics` (B·G pairs: mean, then
    /// inverse deviation) when given. With `shortcut` (C, B, P) the residual join that follows is
    /// fused in: out = (that + shortcut), then max(·, 0) when `rectified`, each value rounded as the
    /// unfused layers round it, so the bits are theirs. `samples`: only these samples (all by default).
    static func forward(
        out: UnsafeMutablePointer<Float>, statistics: UnsafeMutablePointer<Float>?,
        inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        batch: Int, channels: Int, plane: Int, groups: Int, rectified: Bool = false,
        shortcut: UnsafePointer<Float>? = nil, samples: Range<Int>? = nil
    ) {
        let perGroup = channels / groups
        let n = Float(perGroup * plane)
        for b in samples ?? 0..<batch {
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
                    if let shortcut {
                        // ResidualAdd.forward's sum of this layer's rounded output and the shortcut.
                        let s = shortcut + (c * batch + b) * plane
                        if rectified {
                            for i in 0..<plane { let v = (x[i] * scale + shift) + s[i]; y[i] = v > 0 ? v : 0 }
                        } else {
                            for i in 0..<plane { y[i] = (x[i] * scale + shift) + s[i] }
                        }
                    } else if rectified {
                        // ReLU.forward's select (NaN → 0).
                        for i in 0..<plane { let v = x[i] * scale + shift; y[i] = v > 0 ? v : 0 }
                    } else {
                        for i in 0..<plane { y[i] = x[i] * scale + shift }
                    }
                }
            }
        }
    }

    /// dInp (C, B, P) = ∂L/∂x, overwritten (when given); then sink.weight (γ) += scale · Σ dOut·x̂ and
    /// sink.bias (β) += scale · Σ dOut per channel. With x̂ the normalised input and ĝ = γ·dOut,
    /// ∂L/∂x = (1/σ) · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)), the means taken over the group.
    /// The input gradient is computed first so a sink pointing at γ (folded SGD) is safe.
    /// `rectifiedOutput`: the forward pass was `rectified` and this is its output; dOut is then the
    /// gradient after the fused ReLU and is read as ReLU.backward would have left it (zero where
    /// the output is not > 0), so the results are the unfused layers' bit for bit.
    static func backward(
        dInp: UnsafeMutablePointer<Float>?, sink: ParameterSink?,
        dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, statistics: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        batch: Int, channels: Int, plane: Int, groups: Int, rectifiedOutput: UnsafePointer<Float>? = nil
    ) {
        if let rectifiedOutput {
            backward(dInp: dInp, sink: sink, dOut: dOut, inp: inp, statistics: statistics, gamma: gamma,
                     batch: batch, channels: channels, plane: plane, groups: groups, mask: Rectified(output: rectifiedOutput))
        } else {
            backward(dInp: dInp, sink: sink, dOut: dOut, inp: inp, statistics: statistics, gamma: gamma,
                     batch: batch, channels: channels, plane: plane, groups: groups, mask: Unmasked())
        }
    }

    /// Backward with dOut read through `mask` (specialised per mask type, so the unfused pass
    /// carries no select).
    @inline(__always)
    private static func backward<M: GradientMask>(
        dInp: UnsafeMutablePointer<Float>?, sink: ParameterSink?,
        dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, statistics: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        batch: Int, channels: Int, plane: Int, groups: Int, mask: M
    ) {
        let perGroup = channels / groups
        let n = Float(perGroup * plane)
        if dInp == nil && sink == nil { return }
        // One pass over (x, dOut) per (sample, channel) plane gives both the group sums the input
        // gradient needs and the per-channel γ and β gradients (Σ dOut·x̂ and Σ dOut).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * channels) { sums in
            let dGamma = sums.baseAddress!, dBeta = dGamma + channels
            dGamma.initialize(repeating: 0, count: 2 * channels)
            for b in 0..<batch {
                for g in 0..<groups {
                    let mean = statistics[2 * (b * groups + g)], inverse = statistics[2 * (b * groups + g) + 1]
                    // Σ ĝ and Σ ĝ·x̂ over the group.
                    var sumG: Float = 0, sumGX: Float = 0
                    for c in (g * perGroup)..<((g + 1) * perGroup) {
                        let offset = (c * batch + b) * plane
                        let x = inp + offset, dy = dOut + offset
                        // Eight lanes: a scalar float reduction does not vectorise (no reassociation).
                        var vs = SIMD8<Float>(repeating: 0), vsx = SIMD8<Float>(repeating: 0)
                        let vmean = SIMD8<Float>(repeating: mean)
                        var i = 0
                        while i + 8 <= plane {
                            let d = mask.apply(UnsafeRawPointer(dy).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                               at: offset + i)
                            let xv = UnsafeRawPointer(x).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                            vs += d
                            vsx += d * (xv - vmean)
                            i += 8
                        }
                        var s = vs.sum(), sx = vsx.sum()
                        while i < plane {
                            let d = mask.apply(dy[i], at: offset + i)
                            s += d
                            sx += d * (x[i] - mean)
                            i += 1
                        }
                        dBeta[c] += s
                        dGamma[c] += sx * inverse
                        sumG += gamma[c] * s
                        sumGX += gamma[c] * sx * inverse
                    }
                    guard let dInp else { continue }
                    let meanG = sumG / n, meanGX = sumGX / n
                    for c in (g * perGroup)..<((g + 1) * perGroup) {
                        let offset = (c * batch + b) * plane
                        let x = inp + offset, dy = dOut + offset, dx = dInp + offset
                        // dx = inverse·(γ·dy − meanG − (x − μ)·inverse·meanGX) = a·dy + k·x + k0
                        let a = inverse * gamma[c], k = -inverse * inverse * meanGX
                        let k0 = -inverse * meanG - k * mean
                        // Eight lanes by hand: with the mask's select the scalar loop stayed scalar.
                        let va = SIMD8<Float>(repeating: a), vk = SIMD8<Float>(repeating: k), vk0 = SIMD8<Float>(repeating: k0)
                        var i = 0
                        while i + 8 <= plane {
                            let d = mask.apply(UnsafeRawPointer(dy).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                               at: offset + i)
                            let xv = UnsafeRawPointer(x).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(dx).storeBytes(of: va * d + vk * xv + vk0, toByteOffset: i * 4, as: SIMD8<Float>.self)
                            i += 8
                        }
                        while i < plane {
                            dx[i] = a * mask.apply(dy[i], at: offset + i) + k * x[i] + k0
                            i += 1
                        }
                    }
                }
            }
            guard let sink else { return }
            for c in 0..<channels {
                sink.weight[c] += sink.scale * dGamma[c]
                sink.bias?[c] += sink.scale * dBeta[c]
            }
        }
    }
}

/// How GroupNorm's backward reads dOut: as is, or through a fused ReLU's mask.
private protocol GradientMask {
    func apply(_ g: Float, at index: Int) -> Float
    func apply(_ g: SIMD8<Float>, at index: Int) -> SIMD8<Float>
}

private struct Unmasked: GradientMask {
    @inline(__always) func apply(_ g: Float, at index: Int) -> Float { g }
    @inline(__always) func apply(_ g: SIMD8<Float>, at index: Int) -> SIMD8<Float> { g }
}

/// g where the rectified output is > 0, else 0: ReLU.backward's select (a NaN output gives 0).
private struct Rectified: GradientMask {
    let output: UnsafePointer<Float>
    @inline(__always) func apply(_ g: Float, at index: Int) -> Float { output[index] > 0 ? g : 0 }
    @inline(__always) func apply(_ g: SIMD8<Float>, at index: Int) -> SIMD8<Float> {
        let o = UnsafeRawPointer(output + index).loadUnaligned(as: SIMD8<Float>.self)
        return SIMD8<Float>(repeating: 0).replacing(with: g, where: o .> 0)
    }
}
