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
/// aggregation keeps that order (`mergeSecure`): clients clip, the secure sum is the weighted
/// sum, noise goes on it. Buffered mode is to keep it too (not wired).
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

    /// What the next round's TRAIN adds to its config: adaptive clipping on the client side
    /// sends the round's clip norm, which every client clips to (and which the server checks).
    func roundConfig(_ state: ServerModelState) -> [String: Double] {
        guard topology.privacy.clientReportsUnclipped else { return [:] }
        return [PrivacySettings.roundClipNormKey: state.clipNorm ?? topology.privacy.clipNorm]
    }

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

    /// Local DP: the clients that released (or may have released) a report this round, as
    /// `LocalPrivacyLedger` counts them: UPDATEs (accepted or rejected at the edge), and clients
    /// asked to train whose answer never came (timed out, process lost). Computed on the outcome
    /// as it arrived, before the simulated clock moves stragglers' updates.
    static func reporters(_ outcome: RoundOutcome) -> [Int] {
        Set(outcome.updates.map(\.clientIndex)).union(outcome.rejected.map(\.clientIndex))
            .union(outcome.timedOut).union(outcome.lost).sorted()
    }

    /// Local DP's round record: the round's reporters counted in `ledger`, each one's ε so far,
    /// and as `epsilon` the largest any client has spent.
    func localRecord(_ outcome: RoundOutcome, ledger: inout LocalPrivacyLedger) -> PrivacyRoundRecord {
        let reporters = Self.reporters(outcome)
        ledger.add(round: reporters)
        var r = record(round: ledger.mostReports, clipNorm: topology.privacy.clipNorm)
        if let account, r.epsilon != nil {
            var byCount: [Int: Double] = [:]
            var clients: [String: Double] = [:]
            for c in reporters {
                let k = ledger.reports[c] ?? 0
                if byCount[k] == nil { byCount[k] = account.epsilon(afterRounds: k) }
                clients[String(c)] = byCount[k]
            }
            r.clientEpsilon = clients
        }
        return r
    }

    /// `run_end.privacy`: the federation's ε after `rounds` (central), or each client's from its
    /// reports (local: listed for clients below `PrivacyRunEndRecord.listedClientLimit`, grouped
    /// by report count for all).
    func runEnd(rounds: Int, ledger: LocalPrivacyLedger?) -> PrivacyRunEndRecord {
        let p = topology.privacy
        func epsilon(_ k: Int) -> Double? { account.map { $0.epsilon(afterRounds: k) }.flatMap { $0.isFinite ? $0 : nil } }
        guard p.mode == .local, let ledger else {
            return PrivacyRunEndRecord(mode: p.mode.rawValue, delta: p.delta, epsilon: epsilon(rounds))
        }
        var end = PrivacyRunEndRecord(mode: p.mode.rawValue, delta: p.delta, epsilon: epsilon(ledger.mostReports))
        let groups = ledger.histogram.map { PrivacyRunEndRecord.ReportGroup(reports: $0.reports, clients: $0.clients, epsilon: epsilon($0.reports)) }
        var byCount: [Int: Double] = [:]
        for g in groups { byCount[g.reports] = g.epsilon }
        var listed: [String: Double] = [:]
        for (c, k) in ledger.reports where c < PrivacyRunEndRecord.listedClientLimit { listed[String(c)] = byCount[k] }
        end.clients = listed
        end.byReports = groups
        end.participants = ledger.reports.count
        return end
    }

    /// The ℓ2 sensitivity of one client's contribution to the secure sum: its clipped delta
    /// (‖Δ‖ ≤ S; clamping coordinates to ±clipping_range only shrinks it) plus stochastic
    /// rounding's error, under one grid step per coordinate: S′ = S + step·√d.
    static func secureSensitivity(clipNorm s: Double, secAgg: SecAggSettings, parameters d: Int) -> Double {
        let step = 2 * secAgg.clippingRange / Double((UInt64(1) << UInt64(secAgg.quantizationBits)) - 1)
        return s + step * Double(d).squareRoot()
    }

    /// Central DP-FedAvg on the secure sum (docs/PRIVACY.md, "With secure aggregation"): each
    /// client clipped its delta to S on its side and masked it with weight 1, so the unmasked
    /// mean times Σw is Σ clip(Δ_i); the server divides by the fixed n, adds N(0, (z·S′/n)²) to
    /// every coordinate, then applies the server optimiser. The server never sees a norm, so the
    /// record has no clipped clients and no unclipped count. A failed secure round still releases
    /// the noise, like an empty round in clear.
    func mergeSecure(_ outcome: RoundOutcome, report: SecAggRoundReport, state: ServerModelState) -> (MergeStep, PrivacyRoundRecord) {
        let p = topology.privacy
        let clipNorm = state.clipNorm ?? p.clipNorm
        let d = state.global.count
        var sum = [Float](repeating: 0, count: d)
        var survivors: [Int] = []
        var failure: String? = nil
        switch report.verdict {
        case let .aggregated(mean, total, merged) where mean.count == d:
            let scale = total / expectedClients
            for i in 0..<d { sum[i] = Float(Double(mean[i]) * scale) }
            survivors = merged
        case let .aggregated(mean, _, _):
            failure = "the secure sum has \(mean.count) values for \(d) parameters"
        case let .failed(reason):
            failure = "secure aggregation failed: \(reason)"
        }
        let std = p.noiseMultiplier * Self.secureSensitivity(clipNorm: clipNorm, secAgg: topology.secAgg, parameters: d) / expectedClients
        var stream = GaussianNoise.serverStream(seed: p.seed, round: outcome.round)
        GaussianNoise.add(to: &sum, std: std, stream: &stream)
        var step = MergeStep(global: state.global, optimizer: state.optimizer, rejected: outcome.rejected.sorted { $0.clientIndex < $1.clientIndex })
        if let failure { step.nothingMerged = failure + "; noise only" }
        do {
            try RoundLogic.applyServerStep(sum, weights: Dictionary(uniqueKeysWithValues: survivors.map { ($0, 1 / expectedClients) }), to: &step)
        } catch {
            step.failureNote = "\(error)"
            step.nothingMerged = "\(error)"
        }
        var record = self.record(round: outcome.round, clipNorm: clipNorm)
        record.noiseStd = std
        return (step, record)
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
