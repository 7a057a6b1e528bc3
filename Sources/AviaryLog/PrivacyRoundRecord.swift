/// A round's differential privacy (`[privacy]`, docs/PRIVACY.md), in its round record.
public struct PrivacyRoundRecord: Codable, Sendable, Equatable {
    /// "central" or "local".
    public var mode: String
    /// ε spent by the run so far, after this round, at `delta`: the whole federation's for
    /// central DP, the worst-case client's (sampled every round) for local DP. nil when it is not
    /// reported (`unaccounted` says why) or unbounded (noise_multiplier 0).
    public var epsilon: Double?
    public var delta: Double
    /// The clip norm S this round used.
    public var clipNorm: Double
    /// Adaptive clipping: the clip norm of the next round.
    public var nextClipNorm: Double? = nil
    /// Central DP: the std of the Gaussian noise on each coordinate of the merged delta (z_Δ·b·S).
    public var noiseStd: Double? = nil
    /// Central DP: merged updates whose norm was ≤ S (before noise), and the noised count adaptive
    /// clipping used.
    public var unclipped: Int? = nil
    public var noisedUnclipped: Double? = nil
    /// Why ε is not reported (e.g. fixed-size sampling of a subset).
    public var unaccounted: String? = nil

    public init(mode: String, epsilon: Double?, delta: Double, clipNorm: Double) {
        self.mode = mode; self.epsilon = epsilon; self.delta = delta; self.clipNorm = clipNorm
    }
}
