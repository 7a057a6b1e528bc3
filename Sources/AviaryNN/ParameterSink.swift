/// Where a layer's backward pass puts its parameter gradient: `target += scale · ∂L/∂θ`.
/// Accumulating gradients is `(gradient slices, 1)`; plain SGD folded into the backward pass is
/// `(parameter slices, −lr)`, which saves a pass over the gradient buffer.
struct ParameterSink {
    var weight: UnsafeMutablePointer<Float>
    /// nil for a layer without a bias (a convolution followed by a normalisation).
    var bias: UnsafeMutablePointer<Float>?
    var scale: Float
}

/// Sum of `count` floats with eight independent accumulators: a single running sum is
/// latency-bound (one add per 4 cycles) because the compiler may not reassociate it.
@inline(__always)
func fastSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= count {
        acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < count { s += p[i]; i += 1 }
    return s
}
