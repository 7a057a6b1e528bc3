/// The join of a residual block: out = main + shortcut. Its backward pass hands the same
/// gradient to both branches; the network sums the gradients of a slot read twice (the block's
/// input feeds both branches) by letting the second writer in backward order accumulate.
enum ResidualAdd {
    /// out (n) = main + shortcut
    static func forward(out: UnsafeMutablePointer<Float>, main: UnsafePointer<Float>, shortcut: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = main[i] + shortcut[i] }
    }

    /// dBranch (n) ← dOut, or += dOut when that branch's gradient already holds another reader's share.
    static func backward(dBranch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, count: Int, accumulate: Bool) {
        if accumulate {
            for i in 0..<count { dBranch[i] += dOut[i] }
        } else {
            dBranch.update(from: dOut, count: count)
        }
    }
}
