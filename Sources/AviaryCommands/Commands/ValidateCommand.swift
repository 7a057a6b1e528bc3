import ArgumentParser
import AviaryReport
import AviaryData
import AviaryServer
import AviaryTopology

/// `aviary validate <topology…>`: parse and check topologies without running anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check topology files: syntax, keys, ranges, combinations that cannot run, and that the dataset files exist.",
        discussion: "Warnings (ignored keys, weak training attacks, large adaptive server_lr) are printed but do not fail.")

    @Argument(help: "Topology files.")
    var topologies: [String]

    @Flag(help: "Also open and parse the dataset files, partition them and check the model against the real sample shape.")
    var data = false

    func run() throws {
        var bad = 0
        for path in topologies {
            do {
                let t = try Topology.load(path: path)
                var detail = ""
                if t.model.kind == .external, let parameters = t.model.parameters {
                    let file = try ExternalModelFile.load(path: parameters, topology: path)
                    let kept = file.notFederated.isEmpty ? ""
                        : "; not federated (each client keeps its own): " + file.notFederated.map { "\($0.name) (\($0.dtype))" }.joined(separator: ", ")
                    detail += ", external model \(parameters): \(plural(file.model.layout.tensors.count, "float tensor")), \(plural(file.initial.count, "parameter"))\(kept)"
                    switch t.evaluation.mode {
                    case .server: detail += "; evaluation: none (the server cannot run an external model; rounds log no eval unless [evaluation] mode is \"federated\" or \"evaluator\")"
                    case .federated: detail += "; evaluation: federated (the clients evaluate on their held-out splits)"
                    case .evaluator: detail += "; evaluation: by the evaluator process (python -m aviary_client evaluate)"
                    }
                }
                if let trace = t.system?.trace {
                    _ = try SystemTrace.load(path: trace, clients: t.data.clients)
                    detail += ", system trace ok"
                }
                if let capacity = t.system?.deviceCapacity {
                    detail += ", FedScale device capacity ok (\(try FedScaleTraces.capacities(path: capacity).count) entries)"
                }
                if let behaviour = t.system?.behaviourTrace {
                    detail += ", FedScale behaviour trace ok (\(try FedScaleTraces.behaviours(path: behaviour).count) entries)"
                }
                if data {
                    let loaded = try FederatedDataset(spec: t.data)
                    let test = loaded.globalTest()
                    let shape = test.sampleShape, classes = test.classes
                    _ = try t.model.resolve(sampleShape: shape, classes: classes)
                    try t.checkModelFits(sampleShape: shape, classes: classes, file: path)
                    let samples = loaded.statistics().samples
                    detail += ", data ok (\(plural(samples, "training sample")) of shape \(shape), \(plural(classes, "class", "classes")))"
                } else if let files = try t.data.dataset.checkFiles() {
                    detail += files.isEmpty ? ", data generated (nothing to read)"
                        : ", \(plural(files.count, "data file")) present (not parsed; --data parses them)"
                } else {
                    detail += ", data files not checked (--data opens and parses them)"
                }
                print("ok  \(path): \(t.name), \(plural(t.data.clients, "client")), \(plural(t.rounds, "round")), \(t.merge.strategy.name)\(detail)")
                if let line = privacyPlan(t) { print("    privacy: \(line)") }
                for w in t.warnings { print("    warning: \(w)") }
            } catch {
                bad += 1
                print(error is TopologyError ? "bad \(error)" : "bad \(path): \(error)")
            }
        }
        if bad > 0 { throw ExitCode.failure }
    }

    /// What `[privacy]` will spend: ε after the planned rounds (and where on_budget stops).
    func privacyPlan(_ t: Topology) -> String? {
        let p = t.privacy
        guard p.isOn else { return nil }
        let head = "\(p.mode.rawValue) DP, \(p.clipping.rawValue) clipping (S = \(p.clipNorm)), z = \(p.noiseMultiplier)"
        guard let account = t.privacyAccount else {
            return head + "; ε not reported: fixed-size sampling of \(t.server.clientsPerRound) of \(t.data.clients) clients has no bound here (set [server] sampling = \"poisson\")"
        }
        let rounds = t.plannedRounds
        let eps = account.epsilon(afterRounds: rounds)
        var line = head + "; \(plural(rounds, "round")) spend ε = \(String(format: "%.4g", eps)) at δ = \(p.delta)"
        line += account.scope == .central ? " (q = \(String(format: "%.4g", account.samplingRate)), RDP, Poisson-subsampled Gaussian)"
            : " per client, worst case (no amplification)"
        if rounds < t.rounds { line += "; on_budget = \"stop\" ends the run after round \(rounds) of \(t.rounds) (target_epsilon \(p.targetEpsilon!))" }
        return line
    }
}
