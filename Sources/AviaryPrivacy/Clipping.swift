import AviaryMath

/// ℓ2 clipping and Gaussian noise on flat f32 vectors. Norms are summed in Double in index order,
/// so a clip factor is the same bits on every machine.
public enum Clipping {
    /// ‖x‖₂, summed in Double.
    public static func norm(_ x: [Float]) -> Double {
        x.withUnsafeBufferPointer { b in
            var total = 0.0
            for v in b { total += Double(v) * Double(v) }
            return total.squareRoot()
        }
    }

    /// min(1, S/‖x‖): the factor that brings x within the ball of radius S.
    public static func factor(norm: Double, clipNorm: Double) -> Double {
        norm > clipNorm ? clipNorm / norm : 1
    }

    /// Scales `x` into the ℓ2 ball of radius `clipNorm`; returns its norm before.
    @discardableResult
    public static func clip(_ x: inout [Float], to clipNorm: Double) -> Double {
        let n = norm(x)
        let f = factor(norm: n, clipNorm: clipNorm)
        if f < 1 {
            let s = Float(f)
            x.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] *= s } }
        }
        return n
    }
}

/// Gaussian noise from a `RandomStream` named by (seed, `.privacyNoise`, index): the stream is
/// fixed by the index, so nothing about its position needs saving beyond the round it belongs to.
public enum GaussianNoise {
    /// The server's noise stream for `round` (central DP); index 2·round: the vector's noise,
    /// 2·round + 1: the clipped count's (adaptive clipping).
    public static func serverStream(seed: UInt64, round: Int, count: Bool = false) -> RandomStream {
        RandomStream(seed: seed, purpose: .privacyNoise, index: UInt64(round) << 1 | (count ? 1 : 0))
    }

    /// A client's own stream for `round` (local DP): a separate namespace (high bit set).
    public static func clientStream(seed: UInt64, client: Int, round: Int) -> RandomStream {
        RandomStream(seed: seed, purpose: .privacyNoise, index: 1 << 63 | UInt64(client) << 32 | UInt64(UInt32(truncatingIfNeeded: round)))
    }

    /// x += N(0, std²) per coordinate, drawn in index order.
    public static func add(to x: inout [Float], std: Double, stream: inout RandomStream) {
        guard std > 0 else { return }
        x.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] += Float(std * stream.normal()) }
        }
    }
}
