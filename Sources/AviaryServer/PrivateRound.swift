import AviaryLog
import AviaryMath
import AviaryMerge
import AviaryPrivacy
import AviaryProtocol
import AviaryTopology

/// `[privacy]` in the round pipeline (docs/PRIVACY.md, "Where it sits"). The order, per round:
/// checked `ClientUpdate`s (the state machine's edge) → stragglers (the simulated clock) →
/// clip each delta to S → weight (1/n, or capped MWA weights) and sum → Gaussian noise on the
/// sum → server optimiser → accounting (ε after this round, in the round record). Secure
/// aggregation and buffered mode are to keep that order: clipping is per update (client-side
/// under SecAgg), noise goes on whatever sum is released, and ε counts released sums.
struct PrivateRound {
    let topology: Topology
    let account: PrivacyAccount?
    /// Expected clients per round n = q·N: the fixed denominator.
    let expectedClients: Double

    init(topology: Topology) {
        self.topology = topology
        account = topology.privacyAccount
        expectedClients = Double(topology.server.clientsPerRound)
    }

    var initialClipNorm: Double { topology.privacy.clipNorm }

    /// ε after `round`, or why it is not reported.
    func record(round: Int, clipNorm: Double) -> PrivacyRoundRecord {
        let p = topology.privacy
        var r = PrivacyRoundRecord(mode: p.mode.rawValue, epsilon: nil, delta: p.delta, clipNorm: clipNorm)
        if let account {
            let e = account.epsilon(afterRounds: round)
            r.epsilon = e.isFinite ? e : nil
            if !e.isFinite { r.unaccounted = "noise_multiplier 0: unbounded" }
        } else {
            r.unaccounted = "no accountant for privacy mode \(p.mode.rawValue)"
        }
        return r
    }

    /// Central DP-FedAvg / DP-MWA for one round: clip, weight, sum, noise, then the server
    /// optimiser, as `RoundLogic.merge` does for the plain strategies. A round with no update
    /// still releases the noise (noise only), so every round is the same mechanism.
    func merge(_ outcome: RoundOutcome, state: inout ServerModelState) -> (MergeStep, PrivacyRoundRecord) {
        let p = topology.privacy
        let clipNorm = state.clipNorm ?? p.clipNorm
        var stream = GaussianNoise.serverStream(seed: p.seed, round: outcome.round)
        let merged = CentralAggregation.merge(outcome.updates, parameterCount: state.global.count, strategy: topology.merge.strategy,
                                              settings: p, clipNorm: clipNorm, expectedClients: expectedClients, stream: &stream)
        var step = MergeStep(global: state.global, optimizer: state.optimizer, rejected: (outcome.rejected + merged.rejected).sorted { $0.clientIndex < $1.clientIndex })
        step.clipped = merged.clipped
        if merged.weights.isEmpty {
            step.nothingMerged = RoundLogic.nothingMergedReason(outcome, rejected: step.rejected) + "; noise only"
        }
        do {
            try RoundLogic.applyServerStep(merged.delta, weights: merged.weights, to: &step)
        } catch {
            step.failureNote = "\(error)"
            step.nothingMerged = "\(error)"
        }
        var record = self.record(round: outcome.round, clipNorm: clipNorm)
        record.noiseStd = merged.noiseStd
        record.unclipped = merged.unclipped
        if p.clipping == .adaptive {
            var countStream = GaussianNoise.serverStream(seed: p.seed, round: outcome.round, count: true)
            let noised = Double(merged.unclipped) + p.clippedCountStddev * countStream.normal()
            let nextClip = AdaptiveClipping.next(clipNorm: clipNorm, noisedUnclipped: noised, expectedClients: expectedClients,
                                                 targetQuantile: p.targetQuantile, learningRate: p.clipLearningRate)
            record.noisedUnclipped = noised
            record.nextClipNorm = nextClip
            state.clipNorm = nextClip
        }
        return (step, record)
    }
}
