/// `[privacy]` of a topology, validated (docs/TOPOLOGY.md, docs/PRIVACY.md). Clients receive it
/// in the run spec: with `clipOn = .client` or `mode = .local` they clip (and add noise) before
/// encoding.
public struct PrivacySettings: Codable, Sendable, Hashable {
    public enum Mode: String, Codable, Sendable, CaseIterable { case none, central, local }
    public enum Clipping: String, Codable, Sendable, CaseIterable { case fixed, adaptive }
    public enum ClipSite: String, Codable, Sendable, CaseIterable { case server, client }
    public enum OnBudget: String, Codable, Sendable, CaseIterable { case refuse, stop }

    public var mode: Mode = .none
    public var clipping: Clipping = .fixed
    /// S: the flat ℓ2 bound over the whole delta (the initial clip norm when adaptive).
    public var clipNorm: Double = 1
    /// z: noise std = z × the sensitivity.
    public var noiseMultiplier: Double = 1
    public var clipOn: ClipSite = .server
    /// δ of the reported (ε, δ); defaults to 1/N for N clients.
    public var delta: Double = 1e-5
    public var targetEpsilon: Double? = nil
    public var onBudget: OnBudget = .refuse
    /// Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021): the quantile γ of the
    /// update norms the clip norm tracks, the geometric learning rate η_C, and σ_b of the noised
    /// count of unclipped updates (the paper's defaults: 0.5, 0.2, expected clients / 20).
    public var targetQuantile: Double = 0.5
    public var clipLearningRate: Double = 0.2
    public var clippedCountStddev: Double = 0
    /// DP-MWA: every weight is capped at max_weight_factor / n (n = expected clients per round).
    public var maxWeightFactor: Double = 2
    /// The seed of the noise stream (recorded; independent of every other seed).
    public var seed: UInt64 = 6

    public init() {}

    public var isOn: Bool { mode != .none }

    /// Adaptive clipping with client-side clipping (Andrew et al. 2021, Algorithm 1 as written):
    /// the server sends the round's clip norm S in TRAIN's config under `roundClipNormKey`, each
    /// client clips to it and reports b = 1[‖Δ‖ ≤ S] (before clipping) as the UPDATE metric
    /// `unclippedMetric`, and the server noises Σ b and moves S as server-side clipping does.
    public var clientReportsUnclipped: Bool { mode == .central && clipping == .adaptive && clipOn == .client }
    public static let roundClipNormKey = "clip_norm"
    public static let unclippedMetric = "unclipped"

    /// The noise multiplier of the delta's noise: with adaptive clipping the count query spends
    /// part of the budget, so z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) keeps the pair at z (Andrew et al.
    /// §3, the count of ±½ values has sensitivity ½). nil when 2σ_b ≤ z (no z_Δ exists).
    public var deltaNoiseMultiplier: Double? {
        guard mode == .central, clipping == .adaptive else { return noiseMultiplier }
        let rest = 1 / (noiseMultiplier * noiseMultiplier) - 1 / (4 * clippedCountStddev * clippedCountStddev)
        return rest > 0 ? 1 / rest.squareRoot() : nil
    }
}
