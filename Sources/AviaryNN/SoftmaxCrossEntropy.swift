#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax cross-entropy on logits, stable by log-sum-exp: loss = m + log Σ exp(z − m) − z_y
/// with m = max z, so no exp ever overflows. Accuracy counts argmax(z) == y (first max wins).
public enum SoftmaxCrossEntropy {
    /// Loss sum and correct count of a batch of logits (B, C); if `dLogits` is given, writes
    /// ∂(gradientScale · Σ loss)/∂z = gradientScale · (softmax(z) − onehot(y)) into it.
    /// The default scale 1/B gives the gradient of the mean loss (PyTorch's `reduction='mean'`).
    public static func forward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
        dLogits: UnsafeMutablePointer<Float>? = nil, gradientScale: Float? = nil
    ) -> BatchStats {
        let scale = gradientScale ?? (batch > 0 ? 1 / Float(batch) : 0)
        var stats = BatchStats(count: batch)
        for b in 0..<batch {
            let z = logits + b * classes
            let y = Int(labels[b])
            precondition(y >= 0 && y < classes, "label \(y) of sample \(b) is outside 0..<\(classes)")
            var m = z[0]
            var best = 0
            for j in 1..<max(classes, 1) where z[j] > m { m = z[j]; best = j }
            var sum: Float = 0
            for j in 0..<classes { sum += expf(z[j] - m) }
            let logSum = logf(sum)
            stats.lossSum += Double(m - z[y]) + Double(logSum)
            if best == y { stats.correct += 1 }
            if let dLogits {
                let d = dLogits + b * classes
                let inverse = 1 / sum
                for j in 0..<classes { d[j] = scale * expf(z[j] - m) * inverse }
                d[y] -= scale
            }
        }
        return stats
    }
}
