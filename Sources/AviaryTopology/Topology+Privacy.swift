import AviaryPrivacy

/// What a run's ε is computed from (docs/PRIVACY.md, "How ε is computed").
public struct PrivacyAccount: Sendable {
    /// central: the amplified, subsampled accountant over the whole federation (Poisson, or
    /// fixed-size without replacement);
    /// local: one client's own reports, each a Gaussian mechanism of sensitivity 2S (any delta can
    /// replace any other), no amplification: the worst case of a client sampled every round.
    public enum Scope: String, Sendable { case central, local }
    public var scope: Scope
    public var samplingRate: Double
    /// z as the accountant sees it: z for central DP under Poisson sampling or full participation
    /// (add-or-remove-one: sensitivity S); z/2 for fixed-size sampling of a subset and for local DP
    /// (replace-one: sensitivity 2S).
    public var noiseMultiplier: Double
    public var delta: Double
    public var accountant: SampledGaussianAccountant

    public func epsilon(afterRounds rounds: Int) -> Double { accountant.epsilon(rounds: rounds, delta: delta).epsilon }
    public func roundsWithin(_ target: Double, limit: Int) -> Int {
        accountant.roundsWithin(epsilon: target, delta: delta, limit: limit)
    }
}

extension Topology {
    /// q of the accountant: `clients_per_round / clients` (1 when every client is in every round).
    public var privacySamplingRate: Double {
        Swift.min(1, Double(server.clientsPerRound) / Double(data.clients))
    }

    /// The accountant for this topology's `[privacy]`, or nil when it is off. Central DP: Poisson
    /// sampling and full participation use the Poisson-subsampled bound (add-or-remove-one, z);
    /// fixed-size sampling of a subset uses Wang, Balle & Kasiviswanathan's bound for sampling
    /// without replacement, which holds under replace-one adjacency, where one client moves the
    /// clipped sum by up to 2S: the accountant sees z/2.
    public var privacyAccount: PrivacyAccount? {
        let q = privacySamplingRate
        switch privacy.mode {
        case .none: return nil
        case .central where server.sampling == .fixed && q < 1:
            let z = privacy.noiseMultiplier / 2
            return PrivacyAccount(scope: .central, samplingRate: q, noiseMultiplier: z, delta: privacy.delta,
                                  accountant: SampledGaussianAccountant(samplingRate: q, noiseMultiplier: z, sampling: .withoutReplacement))
        case .central:
            return PrivacyAccount(scope: .central, samplingRate: q, noiseMultiplier: privacy.noiseMultiplier, delta: privacy.delta,
                                  accountant: SampledGaussianAccountant(samplingRate: q, noiseMultiplier: privacy.noiseMultiplier))
        case .local:
            let z = privacy.noiseMultiplier / 2
            return PrivacyAccount(scope: .local, samplingRate: 1, noiseMultiplier: z, delta: privacy.delta,
                                  accountant: SampledGaussianAccountant(samplingRate: 1, noiseMultiplier: z))
        }
    }

    /// The rounds the run will do: `[run] rounds`, or fewer when `on_budget = "stop"` ends it at
    /// the last round within `target_epsilon`.
    public var plannedRounds: Int {
        guard privacy.onBudget == .stop, let target = privacy.targetEpsilon, let account = privacyAccount else { return rounds }
        return account.roundsWithin(target, limit: rounds)
    }
}
