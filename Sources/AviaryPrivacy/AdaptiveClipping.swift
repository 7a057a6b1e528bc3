#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The geometric clip-norm update of Andrew, Thakkar, McMahan & Ramaswamy (NeurIPS 2021), Alg. 1:
/// b̃ = (Σ 1[‖Δ_i‖ ≤ C] + N(0, σ_b²)) / n is the noised share of unclipped updates, and
/// C ← C · exp(−η_C (b̃ − γ)). The clip norm shrinks while more than the target quantile γ of the
/// updates fit under it, and grows while fewer do.
public enum AdaptiveClipping {
    public static func next(clipNorm: Double, noisedUnclipped: Double, expectedClients n: Double,
                            targetQuantile gamma: Double, learningRate eta: Double) -> Double {
        let share = noisedUnclipped / n
        return clipNorm * exp(-eta * (share - gamma))
    }
}
