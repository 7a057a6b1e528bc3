import AviaryMerge
import AviaryPrivacy
import AviaryProtocol

extension Topology {
    /// `[privacy]` (docs/TOPOLOGY.md, docs/PRIVACY.md). Reads the keys; `checkPrivacy` refuses the
    /// combinations that cannot be accounted for once the other sections are known.
    static func parsePrivacy(_ t: TableReader, clients: Int, clientsPerRound: Int) throws(TopologyError) -> PrivacySettings {
        var p = PrivacySettings()
        // Without the table nothing is recorded, so runs without DP keep the configuration they had.
        guard t.exists else { return p }
        p.mode = try t.choice("mode", default: PrivacySettings.Mode.none)
        let keys = ["clipping", "clip_norm", "noise_multiplier", "clip_on", "delta", "target_epsilon", "on_budget",
                    "target_quantile", "clip_learning_rate", "clipped_count_stddev", "max_weight_factor", "seed"]
        guard p.isOn else {
            t.ignore(keys, because: "mode = \"none\"")
            try t.finish()
            return p
        }
        p.clipping = try t.choice("clipping", default: PrivacySettings.Clipping.fixed)
        p.clipNorm = try t.double("clip_norm", default: p.clipping == .adaptive ? 0.1 : 1, range: 1e-12...1e12)
        p.noiseMultiplier = try t.double("noise_multiplier", default: 1, range: 0...1e6)
        p.clipOn = try t.choice("clip_on", default: p.mode == .local ? PrivacySettings.ClipSite.client : .server)
        p.delta = try t.double("delta", default: 1 / Double(clients), range: 1e-300...0.999_999)
        p.targetEpsilon = try t.double("target_epsilon")
        p.onBudget = try t.choice("on_budget", default: PrivacySettings.OnBudget.refuse)
        p.maxWeightFactor = try t.double("max_weight_factor", default: 2, range: 1...1e6)
        p.seed = UInt64(try t.int("seed", default: 6, range: 0...Int.max))
        if p.clipping == .adaptive {
            p.targetQuantile = try t.double("target_quantile", default: 0.5, range: 0...1)
            p.clipLearningRate = try t.double("clip_learning_rate", default: 0.2, range: 0...10)
            p.clippedCountStddev = try t.double("clipped_count_stddev", default: Double(clientsPerRound) / 20, range: 0...1e12)
        } else {
            t.ignore(["target_quantile", "clip_learning_rate", "clipped_count_stddev"], because: "clipping = \"fixed\"")
        }
        if let target = p.targetEpsilon, !(target.isFinite && target > 0) {
            throw t.invalid("target_epsilon", "\(target)", expected: "a positive ε")
        }
        if p.targetEpsilon != nil && p.noiseMultiplier <= 0 {
            throw t.invalid("noise_multiplier", "\(p.noiseMultiplier)",
                            expected: "> 0 with target_epsilon: without noise ε is unbounded, so no round fits the target")
        }
        if p.delta >= 1 / Double(clients) {
            t.warn("'privacy.delta' = \(p.delta) is ≥ 1/N = 1/\(clients): such a δ allows a mechanism that publishes one client's update outright; use δ < 1/N")
        }
        if p.noiseMultiplier == 0 {
            t.warn("'privacy.noise_multiplier' = 0: clipping only, ε is unbounded (no privacy guarantee)")
        }
        try t.finish()
        return p
    }

    /// Cross-section rules of `[privacy]`, each naming the key to change.
    func checkPrivacy(file: String) throws(TopologyError) {
        let p = privacy
        guard p.isOn else { return }
        func bad(_ key: String, _ value: String, _ expected: String) -> TopologyError {
            .invalidValue(file: file, key: key, value: value, expected: expected)
        }
        if let why = CentralAggregation.refusal(for: merge.strategy) {
            throw bad("merge.strategy", "\"\(merge.strategy.name)\"", "uniform, fedavg or mwa with [privacy]: \(why)")
        }
        if merge.clipNorm != nil {
            throw bad("merge.clip_norm", "\(merge.clipNorm!)", "no value with [privacy]: privacy.clip_norm clips (and the noise is calibrated to it)")
        }
        if p.mode == .local {
            if p.clipping == .adaptive { throw bad("privacy.clipping", "\"adaptive\"", "\"fixed\" with mode = \"local\": each client clips to a clip norm fixed beforehand") }
            if p.clipOn == .server { throw bad("privacy.clip_on", "\"server\"", "\"client\" with mode = \"local\": the client clips and adds noise itself") }
            if p.targetEpsilon != nil && p.noiseMultiplier <= 0 {
                throw bad("privacy.noise_multiplier", "\(p.noiseMultiplier)", "> 0 with target_epsilon")
            }
        }
        if p.mode == .central && p.clipOn == .client {
            if p.clipping == .adaptive, system?.stragglerPolicy == .stale {
                throw bad("privacy.clip_on", "\"client\"",
                          "\"server\" with clipping = \"adaptive\" and [system] straggler_policy = \"stale\": a late update was clipped to an earlier round's clip norm, which the round that merges it cannot check")
            }
            if compression == .int8 || compression.name == "topk" || quantisation?.errorFeedback == true {
                throw bad("privacy.clip_on", "\"client\"",
                          "\"server\" with compression \(compression): int8 rounding and error-feedback residuals can take a clipped update beyond S, and the server refuses those")
            }
        }
        if p.mode == .central, p.clipping == .adaptive, p.deltaNoiseMultiplier == nil {
            throw bad("privacy.clipped_count_stddev", "\(p.clippedCountStddev)",
                      "more than noise_multiplier / 2 = \(p.noiseMultiplier / 2): the noised count spends (2σ_b)⁻² of the z⁻² budget, and the rest must stay positive")
        }
        guard let target = p.targetEpsilon else { return }
        guard let account = privacyAccount else { return }
        let planned = account.epsilon(afterRounds: rounds)
        guard planned > target else { return }
        let fit = account.roundsWithin(target, limit: rounds)
        if fit == 0 {
            throw bad("privacy.target_epsilon", "\(target)",
                      "at least \(account.epsilon(afterRounds: 1)), what one round spends at noise_multiplier = \(p.noiseMultiplier): no round fits; raise noise_multiplier or lower the sampling rate")
        }
        if p.onBudget == .refuse {
            throw bad("privacy.target_epsilon", "\(target)",
                      "at least the ε = \(planned) that \(rounds) rounds spend (at most \(fit) rounds fit); lower [run] rounds, raise noise_multiplier, or set on_budget = \"stop\"")
        }
    }
}
