import AviaryPrivacy

/// What a run's ε is computed from (docs/PRIVACY.md, "How ε is computed").
public struct PrivacyAccount: Sendable {
    /// central: the amplified, Poisson-sampled accountant over the whole federation;
    /// local: one client's own reports, each a Gaussian mechanism of sensitivity 2S (any delta can
    /// replace any other), no amplification: the worst case of a client sampled every round.
    public enum Scope: String, Sendable { case central, local }
    public var scope: Scope
    public var samplingRate: Double
    /// z as the accountant sees it: z for central, z/2 for local (sensitivity 2S).
    public var noiseMultiplier: Double
    public var delta: Double
    public var accountant: SampledGaussianAccountant

    public func epsilon(afterRounds rounds: Int) -> Double { accountant.epsilon(rounds: rounds, delta: delta).epsilon }
    public func roundsWithin(_ target: Double, limit: Int) -> Int {
        accountant.roundsWithin(epsilon: target, delta: delta, limit: limit)
    }
}

extension Topology {
    /// q of the accountant: `clients_per_round / clients` under Poisson sampling, 1 when every
    /// client is in every round; nil for fixed-size sampling of a subset (no bound implemented).
    public var privacySamplingRate: Double? {
        if server.sampling == .poisson { return Double(server.clientsPerRound) / Double(data.clients) }
        return server.clientsPerRound >= data.clients ? 1 : nil
    }

    /// The accountant for this topology's `[privacy]`, or nil when it is off or ε cannot be
    /// reported (central DP with fixed-size sampling of a subset).
    public var privacyAccount: PrivacyAccount? {
        switch privacy.mode {
        case .none: return nil
        case .central:
            guard let q = privacySamplingRate else { return nil }
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
