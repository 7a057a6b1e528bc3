import Foundation
import AviaryAdversarial
import AviaryMerge

extension Topology {
    enum StrategyKind: String, CaseIterable {
        case fedavg, uniform, mwa, median, trimmedMean = "trimmed-mean", krum, multiKrum = "multi-krum"
    }
    enum OptimizerKind: String, CaseIterable { case sgd, fedavgm, fedadam, fedyogi }

    /// The adaptive optimisers' default η. On its first step FedAdam/FedYogi move every
    /// coordinate by about η whatever the size of Δ (m/√v ≈ ±1 while v is small), where FedAvg
    /// moves it by |Δ|, typically 1e-3–1e-2 after one local epoch; η = 0.01 keeps the first steps
    /// that size. Reddi et al. tune η per task over 10^-3…10^1; set `server_lr` to tune it here.
    public static let adaptiveDefaultServerLR = 0.01
    /// An adaptive η above this draws a warning: each step moves every coordinate by about η.
    public static let adaptiveServerLRWarning = 0.1

    /// `[merge] max_update_norm_ratio`'s default: an update 1000 times the round's median norm
    /// is rejected. Far above honest spread (and above the Byzantine study's attacks at their
    /// default strengths), it stops one client from pushing the model to overflow.
    public static let defaultUpdateNormRatio = 1000.0

    /// Every key of [merge] is read whatever the strategy (a key that does not apply is a
    /// warning, never an unknown-key error), so the unknown-key list names them all.
    static func parseMerge(_ t: TableReader) throws(TopologyError) -> MergeSettings {
        if let named = try t.string("strategy"), StrategyKind(rawValue: named) == nil, let elsewhere = KeySuggestion.strategyElsewhere[named.lowercased()] {
            throw t.invalid("strategy", "\"\(named)\"", expected: "one of " + StrategyKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                            + ". " + elsewhere)
        }
        let kind = try t.choice("strategy", default: StrategyKind.fedavg)
        let fedavgWeight = try t.choice("fedavg_weight", default: FedAvgWeight.datasetSize)
        let metric = try t.choice("metric", default: MWAMetric.trainLoss)
        let penalty = try t.double("penalty", default: 1, range: 0...10)
        let combine = try t.string("combine", default: "none")
        guard combine == "none" || combine == "samples" else {
            throw t.invalid("combine", "\"\(combine)\"", expected: "\"none\" or \"samples\"")
        }
        let missing = try t.choice("missing_metric", default: MissingMetricPolicy.refuse)
        let trimBeta = try t.double("trim_beta", default: 0.1, range: 0...0.499)
        let byzantine = try t.int("byzantine", default: 1, range: 0...10_000)
        let selected = try t.int("selected", default: 2, range: 1...10_000)

        let strategy: AggregationStrategy
        var unused: [String: String] = [:]   // key → the strategies it applies to
        for k in ["metric", "penalty", "combine", "missing_metric"] { unused[k] = "\"mwa\"" }
        unused["fedavg_weight"] = "\"fedavg\""
        unused["trim_beta"] = "\"trimmed-mean\""
        unused["byzantine"] = "\"krum\" and \"multi-krum\""
        unused["selected"] = "\"multi-krum\""
        switch kind {
        case .fedavg:
            strategy = fedavgWeight == .datasetSize ? .fedavg : .fedavgSamplesProcessed
            unused["fedavg_weight"] = nil
        case .uniform: strategy = .uniform
        case .mwa:
            strategy = .mwa(MWAConfig(metric: metric, penalty: penalty, combineWithSamples: combine == "samples",
                                      missingMetric: missing))
            for k in ["metric", "penalty", "combine", "missing_metric"] { unused[k] = nil }
        case .median: strategy = .median
        case .trimmedMean: strategy = .trimmedMean(beta: trimBeta); unused["trim_beta"] = nil
        case .krum: strategy = .krum(byzantine: byzantine); unused["byzantine"] = nil
        case .multiKrum:
            strategy = .multiKrum(byzantine: byzantine, selected: selected)
            unused["byzantine"] = nil; unused["selected"] = nil
        }
        for (k, owner) in unused.sorted(by: { $0.key < $1.key }) {
            t.ignore([k], because: "it applies to strategy = \(owner), not \"\(kind.rawValue)\"")
        }

        let optimizerKind = try t.choice("server_optimizer", default: OptimizerKind.sgd)
        let adaptive = optimizerKind == .fedadam || optimizerKind == .fedyogi
        let lr = try t.double("server_lr", default: adaptive ? adaptiveDefaultServerLR : 1, range: 0...1000)
        let momentum = try t.double("server_momentum", default: 0.9, range: 0...0.999)
        let beta1 = try t.double("beta1", default: 0.9, range: 0...0.999999)
        let beta2 = try t.double("beta2", default: 0.99, range: 0...0.999999)
        let tau = try t.double("tau", default: 1e-3, range: 1e-12...10)
        let optimizer: ServerOptimizerSpec
        switch optimizerKind {
        case .sgd: optimizer = .sgd(lr: lr)
        case .fedavgm: optimizer = .fedavgm(lr: lr, momentum: momentum)
        case .fedadam: optimizer = .fedadam(lr: lr, beta1: beta1, beta2: beta2, tau: tau)
        case .fedyogi: optimizer = .fedyogi(lr: lr, beta1: beta1, beta2: beta2, tau: tau)
        }
        if optimizerKind != .fedavgm {
            t.ignore(["server_momentum"], because: "it applies to server_optimizer = \"fedavgm\", not \"\(optimizerKind.rawValue)\"")
        }
        if !adaptive {
            t.ignore(["beta1", "beta2", "tau"], because: "they apply to server_optimizer = \"fedadam\" and \"fedyogi\", not \"\(optimizerKind.rawValue)\"")
        }
        // One range: whatever the parser accepts, the optimiser accepts.
        do { try optimizer.validate() } catch {
            throw t.invalid("server_lr", "\(lr)", expected: "\(error)")
        }
        if adaptive && lr > adaptiveServerLRWarning {
            t.warn("'\(t.key("server_lr"))' = \(lr) is large for \(optimizerKind.rawValue): every step moves each coordinate by about server_lr (default \(adaptiveDefaultServerLR))")
        }

        let clip = try t.double("clip_norm")
        if let clip, !(clip.isFinite && (1e-12...1e12).contains(clip)) {
            throw t.invalid("clip_norm", "\(clip)", expected: "a number in 1e-12...1e12")
        }
        let maxNorm = try t.double("max_update_norm")
        if let maxNorm, !(maxNorm.isFinite && maxNorm > 0) {
            throw t.invalid("max_update_norm", "\(maxNorm)", expected: "a finite norm > 0")
        }
        let ratio = try t.double("max_update_norm_ratio", default: defaultUpdateNormRatio, range: 0...1e30)
        let normBound = maxNorm == nil && ratio == 0 ? nil : UpdateNormBound(maxNorm: maxNorm, medianMultiple: ratio == 0 ? nil : ratio)
        let c = try t.table("checkpoints")
        var checkpointMerge: CheckpointMergeSettings? = nil
        if c.exists {
            let metric = try c.string("metric", default: "val_loss")
            guard metric == "val_loss" || metric == "round" else {
                throw c.invalid("metric", "\"\(metric)\"", expected: "\"val_loss\" or \"round\"")
            }
            checkpointMerge = CheckpointMergeSettings(window: try c.int("window", default: 5, range: 2...10_000), metric: metric,
                                                      penalty: try c.double("penalty", default: 1, range: 0...10),
                                                      every: try c.int("every", default: 0, range: 0...1_000_000))
            try c.finish()
        }
        try t.finish()
        do { try strategy.validate() } catch { throw t.invalid("strategy", "\"\(kind.rawValue)\"", expected: "\(error)") }
        return MergeSettings(strategy: strategy, serverOptimizer: optimizer, clipNorm: clip, normBound: normBound,
                             checkpointMerge: checkpointMerge)
    }

    /// Every key of [evaluation] is read whether or not `robust` is on. The robust attack runs on
    /// evaluation rounds, so `every` must be a multiple of `[server] eval_every` (its default).
    /// Checkpoint merging on `val_loss` defaults `validation_fraction` to 0.1 and refuses 0, so
    /// it never selects on the reported test set.
    static func parseEvaluation(_ t: TableReader, evalEvery: Int, clients: Int,
                                checkpointMerge: CheckpointMergeSettings?) throws(TopologyError) -> (RobustEvaluationSpec?, Double, Int?, EvaluationSettings) {
        // Who evaluates: the server (built-in models), the clients on their held-out splits, or
        // an evaluator process (protocol 5's EVALUATE; docs/TOPOLOGY.md, "[evaluation]").
        let mode = try t.choice("mode", default: EvaluationMode.server)
        var where_ = EvaluationSettings(mode: mode)
        if mode == .federated {
            where_.clients = try t.int("clients")
            if let n = where_.clients, !(1...clients).contains(n) {
                throw t.invalid("clients", "\(n)", expected: "1 to [data] clients = \(clients): how many registered clients evaluate each time (absent: all)")
            }
        } else {
            t.ignore(["clients"], because: "only federated evaluation (mode = \"federated\") samples evaluating clients")
        }
        if mode != .server, checkpointMerge != nil {
            throw t.invalid("mode", "\"\(mode.rawValue)\"", expected: "\"server\" with [merge.checkpoints]: checkpoint merging scores models with the server's own evaluation")
        }
        // A seeded subset of the held-out data keeps the server's evaluation bounded for huge
        // (synthetic) populations.
        let testSamples = try t.int("test_samples")
        if let n = testSamples, n < 1 { throw t.invalid("test_samples", "\(n)", expected: "a positive number of samples") }
        let needsValidation = checkpointMerge?.metric == "val_loss"
        let validation = try t.double("validation_fraction", default: needsValidation ? 0.1 : 0, range: 0...0.9)
        if needsValidation && validation == 0 {
            throw t.invalid("validation_fraction", "0", expected: "a share > 0 (default 0.1): [merge.checkpoints] metric = \"val_loss\" would otherwise select on the reported test set")
        }
        let robust = try t.bool("robust", default: false)
        let attack = try parseAttack(t, defaultSteps: 20)
        let subset = try t.int("subset", default: 1000, range: 1...1_000_000)
        let every = try t.int("every", default: evalEvery, range: 1...1_000_000)
        let allowWeak = try t.bool("allow_weak_attack", default: false)
        guard robust else {
            t.ignore(["attack", "norm", "epsilon", "step_size", "steps", "random_start", "restarts", "targets", "subset", "every", "allow_weak_attack"],
                     because: "robust evaluation is off (robust = false)")
            try t.finish()
            return (nil, validation, testSamples, where_)
        }
        guard every % evalEvery == 0 else {
            throw t.invalid("every", "\(every)", expected: "a multiple of [server] eval_every = \(evalEvery): robust accuracy is measured on evaluation rounds")
        }
        try checkAttack(attack, t, evaluation: true, allowWeak: allowWeak)
        try t.finish()
        return (RobustEvaluationSpec(attack: attack, subset: subset, every: every), validation, testSamples, where_)
    }

    /// APGD kinds default to 100 steps and read `restarts` (1) and, for `apgd-t`, `targets` (9).
    static func parseAttack(_ t: TableReader, defaultSteps: Int) throws(TopologyError) -> AttackSpec {
        let kind = try t.choice("attack", default: AttackSpec.Kind.pgd)
        let norm = try t.choice("norm", default: AttackSpec.Norm.linf)
        return AttackSpec(kind: kind, norm: norm,
                          epsilon: Float(try t.double("epsilon", default: 0.1, range: 0...100)),
                          stepSize: Float(try t.double("step_size", default: 0.01, range: 0...100)),
                          steps: try t.int("steps", default: kind.isAPGD ? 100 : defaultSteps, range: 1...10_000),
                          randomStart: try t.bool("random_start", default: true),
                          restarts: try t.int("restarts", default: 1, range: 1...100),
                          targets: try t.int("targets", default: 9, range: 1...1000))
    }

    /// FGSM takes one step of ε from the clean point: a `random_start`, `step_size` or `steps`
    /// written for it would be ignored, so it is refused. A PGD attack with steps × step_size < ε
    /// cannot reach the ε-ball's boundary from the clean point: a loud warning for training,
    /// refused for evaluation (it would overstate robust accuracy) unless `allow_weak_attack`.
    /// APGD kinds are evaluation-only; they choose their own step size (η starts at 2ε), so
    /// `step_size` and `random_start` are ignored (with a warning) with them, and
    /// `restarts`/`targets` refused without them.
    static func checkAttack(_ a: AttackSpec, _ t: TableReader, evaluation: Bool, allowWeak: Bool) throws(TopologyError) {
        if a.kind.isAPGD {
            guard evaluation else {
                throw t.invalid("attack", "\"\(a.kind.rawValue)\"", expected: "\"fgsm\" or \"pgd\": APGD attacks are for [evaluation] only")
            }
            // Ignored with a warning rather than refused, so `--set evaluation.attack=apgd-ce` works on a PGD topology.
            t.ignore(["step_size", "random_start", "allow_weak_attack"],
                     because: "attack = \"\(a.kind.rawValue)\" sets its own step size (2ε, halved adaptively) and always starts at a random point")
            if a.kind != .apgdT, t.has("targets") {
                throw t.invalid("targets", "(set)", expected: "no 'targets' with attack = \"\(a.kind.rawValue)\"; only \"apgd-t\" has target classes")
            }
            return
        }
        for k in ["restarts", "targets"] where t.has(k) {
            throw t.invalid(k, "(set)", expected: "no '\(k)' with attack = \"\(a.kind.rawValue)\"; it belongs to the APGD attacks (apgd-ce, apgd-dlr, apgd-t, autoattack-lite)")
        }
        if a.kind == .fgsm {
            for k in ["random_start", "step_size", "steps"] where t.has(k) {
                throw t.invalid(k, "(set)", expected: "no '\(k)' with attack = \"fgsm\": FGSM takes one step of size ε from the clean point and would ignore it; use attack = \"pgd\"")
            }
            return
        }
        let reach = Double(a.steps) * Double(a.stepSize)
        guard reach < Double(a.epsilon) * (1 - 1e-5) else { return }
        let what = "steps × step_size = \(a.steps) × \(a.stepSize) = " + String(format: "%.4g", reach)
            + " < epsilon = \(a.epsilon): the attack cannot reach the ε-ball's boundary"
        if evaluation && !allowWeak {
            throw t.invalid("steps", "\(a.steps)", expected: "an attack that can reach ε (\(what)); raise steps or step_size (e.g. steps × step_size ≥ 2.5 ε), or set allow_weak_attack = true")
        }
        t.warn("WARNING '\(t.key("steps"))': \(what); \(evaluation ? "robust accuracy will be overstated" : "training sees weaker examples than ε suggests")")
    }
}
