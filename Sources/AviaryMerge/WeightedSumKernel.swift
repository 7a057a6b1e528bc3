import AviaryMath
import CVectorKernels

/// out = Σ_i w_i · (p_i · x_i) over many long vectors, in one blocked pass.
///
/// Memory-bound, so the loop reads each input once and keeps the output block in cache: for
/// each block of `blockSize` floats, the inputs are added into it in input order, four per
/// sweep. The arithmetic per element is always ((w_0·y_0 + w_1·y_1) + w_2·y_2) + … in Float,
/// y_i = p_i·x_i rounded to Float (the prescale, e.g. a staleness discount, applied inside the
/// loop instead of in a scaled copy of the input; p_i = 1 leaves x_i as it is), without FMA
/// contraction, so the result depends only on the input order (client-index order at the
/// callers), never on block size or grouping.
enum WeightedSumKernel {
    /// 16 K floats = 64 KiB of output: stays in L2 while all inputs stream through it.
    static let blockSize = 16_384

    static func run(inputs: [UnsafePointer<Float>], weights: [Float], count: Int, into out: UnsafeMutablePointer<Float>) {
        run(inputs: inputs, weights: weights, prescales: nil, count: count, into: out)
    }

    /// `prescales`: p_i per input (nil: all 1).
    static func run(inputs: [UnsafePointer<Float>], weights: [Float], prescales: [Float]?, count: Int,
                    into out: UnsafeMutablePointer<Float>) {
        precondition(inputs.count == weights.count && !inputs.isEmpty)
        precondition(prescales.map { $0.count == inputs.count } ?? true)
        guard let p = prescales, p.contains(where: { $0 != 1 }) else {
            return runUnscaled(inputs: inputs, weights: weights, count: count, into: out)
        }
        var start = 0
        while start < count {
            let len = min(blockSize, count - start)
            let o = out + start
            let x0 = inputs[0] + start, w0 = weights[0], p0 = p[0]
            for j in 0..<len { o[j] = w0 * (p0 * x0[j]) }
            var i = 1
            while i + 4 <= inputs.count {
                let x1 = inputs[i] + start, x2 = inputs[i + 1] + start
                let x3 = inputs[i + 2] + start, x4 = inputs[i + 3] + start
                let w1 = weights[i], w2 = weights[i + 1], w3 = weights[i + 2], w4 = weights[i + 3]
                let p1 = p[i], p2 = p[i + 1], p3 = p[i + 2], p4 = p[i + 3]
                for j in 0..<len {
                    var s = o[j] + w1 * (p1 * x1[j])
                    s = s + w2 * (p2 * x2[j])
                    s = s + w3 * (p3 * x3[j])
                    o[j] = s + w4 * (p4 * x4[j])
                }
                i += 4
            }
            while i < inputs.count {
                let x = inputs[i] + start, w = weights[i], pi = p[i]
                for j in 0..<len { o[j] = o[j] + w * (pi * x[j]) }
                i += 1
            }
            start += len
        }
    }

    /// `run` with prescales that also returns Σ (p_i·x_i)² for every input, in the same pass over
    /// memory, each bit for bit as `FloatPointers.squaredNorm(x_i, count:, scale: p_i)` computes
    /// it (its blocks, its 8-lane Float partial sums, its Double tail). Per element the sum is
    /// the same sequence of Float operations as `run`'s, eight elements at a time.
    ///
    /// `outputSquares` is Σ out_j² summed in index order in Float (`s = s + o * o`), the bits
    /// `update_norm` takes from the merged delta: a chain of dependent adds that runs here under
    /// the loads of the inputs instead of as a pass of its own after the merge.
    ///
    /// `vectorLevel` (`VectorKernels.level`'s scale) ≥ 1 runs the AVX2 copy of this loop
    /// (CVectorKernels/merge.h, `aviary_weighted_sum_norms_avx2`): Swift compiles SIMD8<Float> for
    /// baseline x86-64 as two SSE halves with a broadcast per input per step, and keeps the
    /// accumulators in memory; one AVX2 register holds the eight lanes, with every lane's
    /// operations in the same order, so the bits are the same (`DiscountFusionTests`).
    ///
    /// `step` (AVX2 only): the server's SGD step on the output in the same pass, next =
    /// Float(Double(global) + rate·Double(out)) per element, the bits of
    /// `ServerOptimizer.applySGDStepIfFinite(delta: out, to: global)`; `stepFinite` says whether
    /// every output and every stepped value was finite (that step declines otherwise). nil when
    /// no step was asked or this path has none: the caller steps in a pass of its own.
    static func runWithSquaredNorms(inputs: [UnsafePointer<Float>], weights: [Float], prescales: [Float], count: Int,
                                    into out: UnsafeMutablePointer<Float>,
                                    step: FusedStep? = nil,
                                    vectorLevel: Int = VectorKernels.level) -> (inputSquares: [Double], outputSquares: Float, stepFinite: Bool?) {
        let n = inputs.count
        precondition(n > 0 && weights.count == n && prescales.count == n)
        var totals = [Double](repeating: 0, count: n)
        var outputSquares: Float = 0
        #if arch(x86_64)
        if vectorLevel >= 1 {
            var scratch = [Float](repeating: 0, count: 8 * n)
            var bad: Int32 = 0
            inputs.map(Optional.some).withUnsafeBufferPointer { x in
            totals.withUnsafeMutableBufferPointer { t in
            scratch.withUnsafeMutableBufferPointer { acc in
                outputSquares = aviary_weighted_sum_norms_avx2(x.baseAddress!, weights, prescales, n, count, FloatPointers.normBlock,
                                                               out, t.baseAddress!, acc.baseAddress!,
                                                               step?.global, step?.rate ?? 0, step?.next, &bad)
            }
            }
            }
            return (totals, outputSquares, step == nil ? nil : bad == 0)
        }
        #endif
        var accumulators = [SIMD8<Float>](repeating: .zero, count: n)
        let block = FloatPointers.normBlock
        inputs.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { w in
        prescales.withUnsafeBufferPointer { p in
        accumulators.withUnsafeMutableBufferPointer { acc in
            let output = UnsafeMutableRawPointer(out)
            var start = 0
            while start < count {
                let end = min(count, start + block)
                for i in 0..<n { acc[i] = .zero }
                var j = start
                while j + 8 <= end {
                    let y0 = UnsafeRawPointer(x[0]).loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * SIMD8(repeating: p[0])
                    acc[0] += y0 * y0
                    var o = SIMD8(repeating: w[0]) * y0
                    for i in 1..<n {
                        let y = UnsafeRawPointer(x[i]).loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * SIMD8(repeating: p[i])
                        acc[i] += y * y
                        o = o + SIMD8(repeating: w[i]) * y
                    }
                    output.storeBytes(of: o, toByteOffset: j * 4, as: SIMD8<Float>.self)
                    for k in 0..<8 { outputSquares = outputSquares + o[k] * o[k] }
                    j += 8
                }
                for i in 0..<n {
                    var partial = Double(acc[i].sum())
                    var t = j
                    while t < end { let y = x[i][t] * p[i]; partial += Double(y) * Double(y); t += 1 }
                    totals[i] += partial
                }
                while j < end {
                    var o = w[0] * (x[0][j] * p[0])
                    for i in 1..<n { o = o + w[i] * (x[i][j] * p[i]) }
                    out[j] = o
                    outputSquares = outputSquares + o * o
                    j += 1
                }
                start = end
            }
        }
        }
        }
        }
        return (totals, outputSquares, nil)
    }

    /// The SGD step `runWithSquaredNorms` can apply to its output: the global model it steps
    /// (`count` values), the learning rate, and where the new model goes.
    struct FusedStep {
        var global: UnsafePointer<Float>
        var rate: Double
        var next: UnsafeMutablePointer<Float>
    }

    private static func runUnscaled(inputs: [UnsafePointer<Float>], weights: [Float], count: Int, into out: UnsafeMutablePointer<Float>) {
        var start = 0
        while start < count {
            let len = min(blockSize, count - start)
            let o = out + start
            let x0 = inputs[0] + start, w0 = weights[0]
            for j in 0..<len { o[j] = w0 * x0[j] }
            var i = 1
            while i + 4 <= inputs.count {
                let x1 = inputs[i] + start, x2 = inputs[i + 1] + start
                let x3 = inputs[i + 2] + start, x4 = inputs[i + 3] + start
                let w1 = weights[i], w2 = weights[i + 1], w3 = weights[i + 2], w4 = weights[i + 3]
                for j in 0..<len {
                    var s = o[j] + w1 * x1[j]
                    s = s + w2 * x2[j]
                    s = s + w3 * x3[j]
                    o[j] = s + w4 * x4[j]
                }
                i += 4
            }
            while i < inputs.count {
                let x = inputs[i] + start, w = weights[i]
                for j in 0..<len { o[j] = o[j] + w * x[j] }
                i += 1
            }
            start += len
        }
    }
}
