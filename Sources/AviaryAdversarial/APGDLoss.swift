#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-sample objectives APGD ascends (Croce & Hein, ICML 2020), each with its gradient
/// with respect to the logits z. With π the classes sorted by decreasing logit:
/// - `ce`: log Σ exp z − z_y;
/// - `dlr`: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12);
/// - `dlrTargeted`: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12) for a target class t.
/// DLR is invariant to shifting and (up to the 1e-12) scaling the logits, so saturated softmax
/// (masked CE gradients) does not blunt it.
public enum APGDLoss: Sendable, Hashable {
    case ce
    case dlr
    case dlrTargeted

    /// The 1e-12 of the DLR denominators.
    static let denominatorFloor: Float = 1e-12

    /// Smallest class count the loss is defined for (DLR needs π3, the targeted one π4).
    public var minimumClasses: Int {
        switch self {
        case .ce: return 2
        case .dlr: return 3
        case .dlrTargeted: return 4
        }
    }

    /// Writes each sample's loss into `losses` and ∂loss/∂z (per sample, not averaged) into
    /// `gradient` (batch × classes). `targets` is read only by `dlrTargeted`. Ties in the
    /// sort go to the lower class index; the result is a subgradient there.
    public func evaluate(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, targets: UnsafePointer<Int32>?,
                         batch: Int, classes: Int, losses: UnsafeMutablePointer<Float>,
                         gradient: UnsafeMutablePointer<Float>) {
        precondition(classes >= minimumClasses, "APGDLoss \(self) needs at least \(minimumClasses) classes, the model has \(classes)")
        for b in 0..<batch {
            let z = logits + b * classes, g = gradient + b * classes
            let y = Int(labels[b])
            g.update(repeating: 0, count: classes)
            switch self {
            case .ce:
                var m = z[0]
                for j in 1..<classes where z[j] > m { m = z[j] }
                var sum: Float = 0
                for j in 0..<classes { sum += expf(z[j] - m) }
                losses[b] = m + logf(sum) - z[y]
                let inverse = 1 / sum
                for j in 0..<classes { g[j] = expf(z[j] - m) * inverse }
                g[y] -= 1
            case .dlr:
                let top = Self.topFour(z, classes)
                let other = top.0 == y ? top.1 : top.0
                let numerator = z[y] - z[other]
                let denominator = z[top.0] - z[top.2] + Self.denominatorFloor
                losses[b] = -numerator / denominator
                g[y] -= 1 / denominator
                g[other] += 1 / denominator
                let q = numerator / (denominator * denominator)
                g[top.0] += q
                g[top.2] -= q
            case .dlrTargeted:
                guard let targets else { preconditionFailure("APGDLoss.dlrTargeted needs target classes") }
                let t = Int(targets[b])
                let top = Self.topFour(z, classes)
                let numerator = z[y] - z[t]
                let denominator = z[top.0] - (z[top.2] + z[top.3]) / 2 + Self.denominatorFloor
                losses[b] = -numerator / denominator
                g[y] -= 1 / denominator
                g[t] += 1 / denominator
                let q = numerator / (denominator * denominator)
                g[top.0] += q
                g[top.2] -= q / 2
                g[top.3] -= q / 2
            }
        }
    }

    /// Indices of the four largest logits, largest first (ties: lower index first); entries
    /// beyond `classes` repeat the last valid one.
    static func topFour(_ z: UnsafePointer<Float>, _ classes: Int) -> (Int, Int, Int, Int) {
        var t0 = -1, t1 = -1, t2 = -1, t3 = -1
        for j in 0..<classes {
            let v = z[j]
            if t0 < 0 || v > z[t0] { (t3, t2, t1, t0) = (t2, t1, t0, j) }
            else if t1 < 0 || v > z[t1] { (t3, t2, t1) = (t2, t1, j) }
            else if t2 < 0 || v > z[t2] { (t3, t2) = (t2, j) }
            else if t3 < 0 || v > z[t3] { t3 = j }
        }
        if t1 < 0 { t1 = t0 }
        if t2 < 0 { t2 = t1 }
        if t3 < 0 { t3 = t2 }
        return (t0, t1, t2, t3)
    }

    /// The class with the `rank`-th largest logit (rank 1 = the prediction; ties: lower index first).
    static func classOfRank(_ rank: Int, logits z: UnsafePointer<Float>, classes: Int) -> Int {
        var order = Array(0..<classes)
        order.sort { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
        return order[min(rank, classes) - 1]
    }
}
