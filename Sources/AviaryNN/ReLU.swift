/// Rectified linear unit, applied in place: the backward pass only needs the sign of the
/// output, so the pre-activation is never kept.
enum ReLU {
    /// x (n) = max(x, 0), in place
    @inline(__always)
    static func forward(x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = v > 0 ? v : 0
        }
    }

    /// dx (n) = out > 0 ? dx : 0, in place on the gradient. Branch-free (load, then select) so
    /// it vectorises; the branching form did not and cost ~20% of an MLP step.
    @inline(__always)
    static func backward(dx: UnsafeMutablePointer<Float>, out: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = dx[i]
            dx[i] = out[i] > 0 ? g : 0
        }
    }
}
