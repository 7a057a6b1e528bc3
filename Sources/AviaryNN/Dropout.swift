import AviaryMath

/// Inverted dropout, in place: in training each value is kept with probability 1 − rate and
/// scaled by 1/(1 − rate), so inference is the identity and needs no rescaling. The mask is
/// drawn from the caller's `RandomStream`, so a seeded run drops the same units every time.
enum Dropout {
    /// x (n) ← x · mask; mask[i] = 1/(1 − rate) with probability 1 − rate, else 0 (written for backward).
    static func forwardTraining(x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count: Int,
                                rate: Float, stream: inout RandomStream) {
        let keep = 1 - rate
        let scale = 1 / keep
        for i in 0..<count {
            // 24-bit uniform in [0, 1): kept when below the keep probability.
            mask[i] = stream.nextFloat() < keep ? scale : 0
            x[i] *= mask[i]
        }
    }

    /// dx (n) ← dx · mask, in place on the gradient.
    static func backward(dx: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] *= mask[i] }
    }
}
