#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// KL(p ‖ q) between the softmaxes of clean logits z (p) and adversarial logits z′ (q), the
/// regulariser of TRADES, computed stably from logits (log p = z − logsumexp z).
///
/// Gradients of KL = Σ pᵢ(log pᵢ − log qᵢ): ∂/∂z′ = q − p, and ∂/∂z = p ⊙ (r − KL) with
/// rᵢ = log pᵢ − log qᵢ (the softmax Jacobian removes the constant term).
public enum SoftmaxKL {
    /// Row-wise softmax of (batch × classes) logits into `probabilities`.
    public static func softmax(logits: UnsafePointer<Float>, batch: Int, classes: Int,
                               into probabilities: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            let z = logits + b * classes, p = probabilities + b * classes
            var m = z[0]
            for j in 1..<max(classes, 1) where z[j] > m { m = z[j] }
            var sum: Float = 0
            for j in 0..<classes {
                p[j] = expf(z[j] - m)
                sum += p[j]
            }
            let inverse = 1 / sum
            for j in 0..<classes { p[j] *= inverse }
        }
    }

    /// Sum over the batch of KL(softmax z ‖ softmax z′). Writes `scale`·∂KL/∂z′ into
    /// `adversarialGradient` and `scale`·∂KL/∂z into `cleanGradient` when they are non-nil.
    @discardableResult
    public static func divergence(cleanLogits: UnsafePointer<Float>, adversarialLogits: UnsafePointer<Float>,
                                  batch: Int, classes: Int, scale: Float,
                                  adversarialGradient: UnsafeMutablePointer<Float>?,
                                  cleanGradient: UnsafeMutablePointer<Float>?) -> Double {
        var total: Double = 0
        for b in 0..<batch {
            let z = cleanLogits + b * classes, w = adversarialLogits + b * classes
            let logZ = logSumExp(z, classes), logW = logSumExp(w, classes)
            var kl: Float = 0
            for j in 0..<classes {
                let logP = z[j] - logZ
                kl += expf(logP) * (logP - (w[j] - logW))
            }
            total += Double(kl)
            if let dw = adversarialGradient.map({ $0 + b * classes }) {
                for j in 0..<classes { dw[j] = scale * (expf(w[j] - logW) - expf(z[j] - logZ)) }
            }
            if let dz = cleanGradient.map({ $0 + b * classes }) {
                for j in 0..<classes {
                    let logP = z[j] - logZ
                    dz[j] = scale * expf(logP) * (logP - (w[j] - logW) - kl)
                }
            }
        }
        return total
    }

    @inline(__always)
    static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = z[0]
        for j in 1..<max(n, 1) where z[j] > m { m = z[j] }
        var sum: Float = 0
        for j in 0..<n { sum += expf(z[j] - m) }
        return m + logf(sum)
    }
}
