/// The join of a residual block: out = main + shortcut. Its backward pass hands the same
/// gradient to both branches; the network sums the gradients of a slot read twice (the block's
/// input feeds both branches) by letting the second writer in backward order accumulate.
enum ResidualAdd {
    /// out (n) = main + shortcut, or max(main + shortcut, 0) when `rectified` (the block's ReLU
    /// fused in, ReLU.forward's select).
    static func forward(out: UnsafeMutablePointer<Float>, main: UnsafePointer<Float>, shortcut: UnsafePointer<Float>, count: Int,
                        rectified: Bool = false) {
        if rectified {
            for i in 0..<count { let v = main[i] + shortcut[i]; out[i] = v > 0 ? v : 0 }
        } else {
            for i in 0..<count { out[i] = main[i] + shortcut[i] }
        }
    }

    /// dBranch (n) ← dOut, or += dOut when that branch's gradient already holds another reader's
    /// share. With `rectifiedOutput` (the rectified forward's output) dOut is the gradient after
    /// the fused ReLU and is taken as ReLU.backward would have left it: zero where the output is not > 0.
    static func backward(dBranch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, count: Int, accumulate: Bool,
                         rectifiedOutput: UnsafePointer<Float>? = nil) {
        if let out = rectifiedOutput {
            // Eight lanes by hand (load, then select): the scalar form `out[i] > 0 ? dOut[i] : 0`
            // compiled to a branch per element.
            let zero = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= count {
                let o = UnsafeRawPointer(out).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let g = zero.replacing(with: UnsafeRawPointer(dOut).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                       where: o .> 0)
                let v = accumulate ? UnsafeRawPointer(dBranch).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + g : g
                UnsafeMutableRawPointer(dBranch).storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                let g = dOut[i]
                let masked: Float = out[i] > 0 ? g : 0
                dBranch[i] = accumulate ? dBranch[i] + masked : masked
                i += 1
            }
        } else if accumulate {
            for i in 0..<count { dBranch[i] += dOut[i] }
        } else {
            dBranch.update(from: dOut, count: count)
        }
    }
}
