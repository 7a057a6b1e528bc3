import AviaryLog

/// What experiment a run is, in a few words per aspect, from `run_start.config` (the resolved
/// topology): the report's header block and the one line above `aviary logs`' table.
public enum ExperimentSummary {
    /// (aspect, description) rows: data, model, local training, adversarial training,
    /// aggregation, evaluation, seeds. Empty for a log without `config` (written before it existed).
    public static func facts(_ c: [String: ConfigValue]) -> [(String, String)] {
        guard !c.isEmpty else { return [] }
        func v(_ k: String) -> String { c[k]?.description ?? "?" }
        func n(_ k: String) -> Double { c[k]?.number ?? 0 }

        var data = "\(v("data.dataset")) / \(v("data.partition"))"
        let partitionParameters = ["data.alpha": "α", "data.shards_per_client": "shards", "data.classes_per_client": "classes",
                                   "data.sigma": "σ", "data.exponent": "exponent"]
        if v("data.partition") != "natural" {
            let ps = partitionParameters.keys.sorted().compactMap { k in c[k].map { "\(partitionParameters[k]!) \($0)" } }
            if !ps.isEmpty { data += " (" + ps.joined(separator: ", ") + ")" }
        }
        if v("server.mode") == "buffered" {
            data += ", \(v("data.clients")) clients, buffered\(v("server.clock") == "wall" ? " (wall clock)" : ""): concurrency \(v("server.concurrency")), K \(v("server.buffer_size")), \(v("run.rounds")) server update\(n("run.rounds") == 1 ? "" : "s")"
        } else {
            data += ", \(v("data.clients")) clients, \(v("server.clients_per_round")) per round, \(v("run.rounds")) round\(n("run.rounds") == 1 ? "" : "s")"
        }

        var model = v("model.kind")
        if model == "mlp" { model += " \(v("model.hidden"))" }

        var training = "SGD lr \(v("train.learning_rate")), \(v("train.local_epochs")) epoch\(n("train.local_epochs") == 1 ? "" : "s"), batch \(v("train.batch_size"))"
        for (k, label) in [("train.momentum", "momentum"), ("train.weight_decay", "weight decay"), ("train.proximal_mu", "FedProx μ")] where n(k) > 0 {
            training += ", \(label) \(v(k))"
        }
        if let steps = c["train.max_local_steps"], steps != .null { training += ", at most \(steps) steps" }

        let mode = v("adversarial.mode")
        var adversarial = mode == "none" ? "none" : "mode \(mode): " + attack(c, "adversarial")
        if mode == "mix" { adversarial += ", λ \(v("adversarial.mix_lambda"))" }
        if mode == "trades" { adversarial += ", β \(v("adversarial.trades_beta"))" }
        if c.keys.contains(where: { $0.hasPrefix("adversarial.clients[") }) { adversarial += "; per-client overrides" }

        let strategy = v("merge.strategy")
        var aggregation = strategy
        switch strategy {
        case "mwa": aggregation += " on \(v("merge.metric")), p = \(v("merge.penalty"))" + (v("merge.combine") == "samples" ? ", × samples" : "")
        case "fedavg": aggregation += " (weight: \(v("merge.fedavg_weight")))"
        case "trimmed-mean": aggregation += " β \(v("merge.trim_beta"))"
        case "krum": aggregation += " f \(v("merge.byzantine"))"
        case "multi-krum": aggregation += " f \(v("merge.byzantine")), m \(v("merge.selected"))"
        default: break
        }
        if v("merge.server_optimizer") != "sgd" || n("merge.server_lr") != 1 {
            aggregation += ", server \(v("merge.server_optimizer")) lr \(v("merge.server_lr"))"
        }
        if let clip = c["merge.clip_norm"], clip != .null { aggregation += ", clip ‖Δ‖ ≤ \(clip)" }
        if c["merge.checkpoints.window"] != nil {
            aggregation += "; checkpoint merge of the last \(v("merge.checkpoints.window")) rounds on \(v("merge.checkpoints.metric")), p = \(v("merge.checkpoints.penalty"))"
        }

        var evaluation = c["evaluation.robust"] == .bool(true)
            ? "clean and robust: " + attack(c, "evaluation") + " on \(v("evaluation.subset")) samples" : "clean only"
        if let t = c["evaluation.test_samples"], t != .null { evaluation += "; test set \(t) samples" }
        if n("evaluation.validation_fraction") > 0 { evaluation += "; validation split \(v("evaluation.validation_fraction"))" }
        // Who evaluates (protocol 5): absent in older logs, "server" by default.
        if case let .string(mode)? = c["evaluation.mode"], mode != "server" {
            evaluation = mode == "federated"
                ? "federated evaluation (" + (c["evaluation.clients"].flatMap { $0 == .null ? nil : "\($0) sampled clients" } ?? "every client") + " on its held-out split), " + evaluation
                : "by the evaluator process, " + evaluation
        }

        // The base only when the seeds derive from it (a file may set them all explicitly).
        let base = n("seeds.base")
        let derived = c["seeds.base"] != nil && n("seeds.partition") == base + 1 && n("seeds.sampling") == base + 2 && n("seeds.training") == base + 3
        let seeds = "partition \(v("seeds.partition")), sampling \(v("seeds.sampling")), training \(v("seeds.training"))"
            + (derived ? " (base \(v("seeds.base")))" : "")
        return [("data", data), ("model", model), ("local training", training), ("adversarial training", adversarial),
                ("aggregation", aggregation), ("evaluation", evaluation), ("seeds", seeds)]
    }

    /// One line: `experiment: fashion-mnist / dirichlet (α 0.3), …; seeds …`; nil without config.
    public static func line(_ config: [String: ConfigValue]?) -> String? {
        let f = facts(config ?? [:])
        guard !f.isEmpty else { return nil }
        return "experiment: " + f.map { "\($0.0): \($0.1)" }.joined(separator: "; ")
    }

    /// `pgd linf ε 0.1, 10 × 0.01` (FGSM: one step of ε).
    static func attack(_ c: [String: ConfigValue], _ section: String) -> String {
        func v(_ k: String) -> String { c[section + "." + k]?.description ?? "?" }
        if v("attack") == "fgsm" { return "fgsm \(v("norm")) ε \(v("epsilon"))" }
        return "\(v("attack"))-\(v("steps")) \(v("norm")) ε \(v("epsilon")), step \(v("step_size"))"
            + (c[section + ".random_start"] == .bool(false) ? ", no random start" : "")
    }
}
