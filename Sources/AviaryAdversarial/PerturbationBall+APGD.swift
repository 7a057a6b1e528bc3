import AviaryMath

/// APGD's update (Croce & Hein, ICML 2020, eq. 2) on the ball:
/// z = P(x^(k) + η·s(∇)), x^(k+1) = P(x^(k) + α(z − x^(k)) + (1 − α)(x^(k) − x^(k−1))),
/// with s = sign for ℓ∞ and ∇/‖∇‖₂ for ℓ2, and P the projection onto ball ∩ box.
extension PerturbationBall {
    /// One APGD step for every sample: `current` (x^(k)) becomes x^(k+1) and `previous` (x^(k−1))
    /// becomes x^(k). `stepSizes` holds each sample's η. `scratch` (batch × features) holds z.
    func apgdStep(current: UnsafeMutablePointer<Float>, previous: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                  clean: UnsafePointer<Float>, stepSizes: UnsafePointer<Float>, momentum alpha: Float, batch: Int,
                  scratch z: UnsafeMutablePointer<Float>) {
        let d = features
        for b in 0..<batch {
            let x = current + b * d, g = gradient + b * d, zb = z + b * d
            let eta = stepSizes[b]
            switch norm {
            case .linf:
                for j in 0..<d {
                    let gj = g[j]
                    zb[j] = x[j] + eta * ((gj > 0 ? 1 : 0) - (gj < 0 ? 1 : 0))
                }
            case .l2:
                var squares: Float = 0
                for j in 0..<d { squares += g[j] * g[j] }
                let scale = eta / (squares.squareRoot() + 1e-12)
                for j in 0..<d { zb[j] = x[j] + scale * g[j] }
            }
        }
        project(adversarial: z, clean: clean, batch: batch)
        for i in 0..<(batch * d) {
            let x = current[i]
            let next = x + alpha * (z[i] - x) + (1 - alpha) * (x - previous[i])
            previous[i] = x
            current[i] = next
        }
        project(adversarial: current, clean: clean, batch: batch)
    }

    /// APGD's random start: ℓ∞ x + ε·t/‖t‖∞ with t uniform in [−1, 1]^d; ℓ2 x + ε·t/‖t‖₂ with t
    /// standard normal (both on the sphere of radius ε, as in the authors' code), then clamped to
    /// the box.
    func apgdStart(adversarial: UnsafeMutablePointer<Float>, clean: UnsafePointer<Float>, batch: Int, rng: inout RandomStream) {
        let d = features
        for b in 0..<batch {
            let a = adversarial + b * d, x = clean + b * d
            var size: Float = 0
            for j in 0..<d {
                switch norm {
                case .linf:
                    a[j] = 2 * rng.nextFloat() - 1
                    size = max(size, abs(a[j]))
                case .l2:
                    a[j] = Float(rng.normal())
                    size += a[j] * a[j]
                }
            }
            if norm == .l2 { size = size.squareRoot() }
            let scale = epsilon / (size + 1e-12)
            for j in 0..<d { a[j] = min(max(x[j] + scale * a[j], lower), upper) }
        }
    }
}
