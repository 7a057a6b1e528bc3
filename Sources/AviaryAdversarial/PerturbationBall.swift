#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import AviaryMath

/// The feasible set of an attack: the ε-ball (ℓ∞ or ℓ2) around each clean sample, intersected
/// with the data's valid box. All operations are per sample on row-per-sample buffers.
///
/// Projection first onto the ball, then clamping to the box, lands in the intersection whenever
/// the clean point lies inside the box: clamping moves every coordinate towards the clean one,
/// so it never increases ‖x_adv − x‖ in either norm.
struct PerturbationBall {
    let norm: AttackSpec.Norm
    let epsilon: Float
    let lower: Float
    let upper: Float
    /// Features per sample.
    let features: Int

    init(norm: AttackSpec.Norm, epsilon: Float, valueRange: ClosedRange<Float>?, features: Int) {
        self.norm = norm
        self.epsilon = epsilon
        self.lower = valueRange?.lowerBound ?? -.infinity
        self.upper = valueRange?.upperBound ?? .infinity
        self.features = features
    }

    /// Madry et al.'s random start. ℓ∞: x + U(−ε, ε) per coordinate. ℓ2: x + r·u with u a
    /// uniform direction (normalised Gaussian) and r = ε·U^(1/d), i.e. uniform in the ball's
    /// volume (for d = 784 nearly all mass sits close to the sphere). Then projected and clamped.
    func randomStart(adversarial: UnsafeMutablePointer<Float>, clean: UnsafePointer<Float>, batch: Int,
                     rng: inout RandomStream) {
        let d = features
        switch norm {
        case .linf:
            // Two 24-bit uniforms per 64-bit draw: the stream call, not the arithmetic, is the cost here.
            let e = epsilon, count = batch * d
            var i = 0
            while i + 1 < count {
                let bits = rng.next()
                let u0 = Float(bits >> 40) * 0x1.0p-24, u1 = Float((bits & 0xFFFF_FFFF) >> 8) * 0x1.0p-24
                adversarial[i] = clean[i] + e * (2 * u0 - 1)
                adversarial[i + 1] = clean[i + 1] + e * (2 * u1 - 1)
                i += 2
            }
            if i < count { adversarial[i] = clean[i] + e * (2 * rng.nextFloat() - 1) }
        case .l2:
            for b in 0..<batch {
                let a = adversarial + b * d, x = clean + b * d
                var squares: Double = 0
                for j in 0..<d {
                    let z = rng.normal()
                    a[j] = Float(z)
                    squares += z * z
                }
                let radius = Double(epsilon) * pow(rng.nextDouble(), 1 / Double(d))
                let scale = squares > 0 ? Float(radius / squares.squareRoot()) : 0
                for j in 0..<d { a[j] = x[j] + scale * a[j] }
            }
        }
        project(adversarial: adversarial, clean: clean, batch: batch)
    }

    /// x_adv + N(0, σ²) per coordinate (TRADES' start with σ = 0.001), projected and clamped.
    func gaussianStart(adversarial: UnsafeMutablePointer<Float>, clean: UnsafePointer<Float>, batch: Int,
                       sigma: Float, rng: inout RandomStream) {
        for i in 0..<(batch * features) { adversarial[i] = clean[i] + sigma * Float(rng.normal()) }
        project(adversarial: adversarial, clean: clean, batch: batch)
    }

    /// One ascent step of size α along `gradient`, then projection and clamping.
    /// ℓ∞: α·sign(g) (sign(0) = 0). ℓ2: α·g/‖g‖ per sample (no move where g = 0).
    func step(adversarial: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, clean: UnsafePointer<Float>,
              batch: Int, stepSize: Float) {
        let d = features
        switch norm {
        case .linf:
            // Fused step, projection and clamp; the selects keep the loop branch-free.
            let e = epsilon, lo = lower, hi = upper
            for i in 0..<(batch * d) {
                let g = gradient[i]
                let sign: Float = (g > 0 ? 1 : 0) - (g < 0 ? 1 : 0)
                let a = adversarial[i] + stepSize * sign
                let x = clean[i]
                adversarial[i] = min(max(a, max(x - e, lo)), min(x + e, hi))
            }
        case .l2:
            for b in 0..<batch {
                let a = adversarial + b * d, g = gradient + b * d
                var squares: Float = 0
                for j in 0..<d { squares += g[j] * g[j] }
                guard squares > 0 else { continue }
                let scale = stepSize / squares.squareRoot()
                for j in 0..<d { a[j] += scale * g[j] }
            }
            project(adversarial: adversarial, clean: clean, batch: batch)
        }
    }

    /// Projects every sample onto its ε-ball around the clean point, then clamps to the box.
    func project(adversarial: UnsafeMutablePointer<Float>, clean: UnsafePointer<Float>, batch: Int) {
        let d = features, e = epsilon, lo = lower, hi = upper
        switch norm {
        case .linf:
            for i in 0..<(batch * d) {
                let x = clean[i]
                adversarial[i] = min(max(adversarial[i], max(x - e, lo)), min(x + e, hi))
            }
        case .l2:
            for b in 0..<batch {
                let a = adversarial + b * d, x = clean + b * d
                var squares: Float = 0
                for j in 0..<d {
                    let delta = a[j] - x[j]
                    squares += delta * delta
                }
                let length = squares.squareRoot()
                if length > e {
                    let scale = e / length
                    for j in 0..<d { a[j] = min(max(x[j] + scale * (a[j] - x[j]), lo), hi) }
                } else {
                    for j in 0..<d { a[j] = min(max(a[j], lo), hi) }
                }
            }
        }
    }
}
