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
