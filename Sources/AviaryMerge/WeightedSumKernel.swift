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
