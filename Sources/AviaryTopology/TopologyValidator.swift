import Foundation
import AviaryAdversarial
import AviaryData
import AviaryMerge
import AviaryNN

/// Rules that span sections: a topology that passes them can merge in every round. Each rule
/// names the key to change and why (docs/TOPOLOGY.md, "Combinations refused").
extension Topology {
    /// The memory budget for the server's copies of the model: a quarter of physical memory,
    /// leaving the rest to the client processes on the same machine and to the system.
    public static var serverMemoryBudget: UInt64 { ProcessInfo.processInfo.physicalMemory / 4 }

    /// Float vectors of the model's size the server holds at once: the global model, the merged
    /// delta, two optimiser-state vectors (FedAdam/FedYogi) and one delta per client of a round;
    /// in buffered mode one per held update instead: at most the clients in flight
    /// (`concurrency`) plus a buffer's (K), whatever `clients_per_round` says.
    public func serverModelCopies() -> Int {
        guard let buffered = server.buffered else { return server.clientsPerRound + 4 }
        return buffered.concurrency + buffered.bufferSize + 4
    }

    /// The sample shape and class count known before loading, for datasets whose shape is fixed
    /// (Synthetic(α,β): 60 features, 10 classes; Fashion-MNIST/MNIST: 1×28×28, 10 classes).
    var knownSampleShape: (shape: [Int], classes: Int)? {
        switch data.dataset {
        case .synthetic: return ([60], 10)
        case .fashionMNIST, .idx: return ([1, 28, 28], 10)
        case .cifar(_, let variant): return (CIFARLoader.sampleShape, variant.classes)
        case .leaf(_, let task): return (task.sampleShape, task.classes)
        default: return nil
        }
    }

    /// Whether the dataset's samples are images, when the topology alone says so.
    var isImageData: Bool? {
        switch data.dataset {
        case .synthetic, .csv: return false
        case .fashionMNIST, .idx, .cifar: return true
        case .leaf(_, let task): return task == .femnist
        default: return nil
        }
    }

    func checkCombinations(file: String, warnings: WarningSink) throws(TopologyError) {
        try checkMerge(file: file)
        if model.kind == .external, processes.clientProcesses > 0 {
            throw .invalidValue(file: file, key: "processes.client_processes", value: "\(processes.clientProcesses)",
                                expected: "0 with [model] kind = \"external\": aviary-client cannot train an external model; start its clients with [processes] command and count")
        }
        if model.kind == .external, merge.checkpointMerge != nil {
            throw .invalidValue(file: file, key: "merge.checkpoints", value: "a table",
                                expected: "no [merge.checkpoints] with [model] kind = \"external\": checkpoint merging scores models with the server's evaluation, and the server cannot run an external model")
        }
        try checkPrivacy(file: file)
        try checkSecAgg(file: file)
        try checkBuffered(file: file, warnings: warnings)
        if isImageData == false {
            if model.kind == .cnn || model.kind == .resnet {
                throw .invalidValue(file: file, key: "model.kind", value: "\"\(model.kind.rawValue)\"",
                                    expected: "\"mlp\" or \"logreg\": \(data.dataset.name) samples are flat vectors, the \(model.kind == .cnn ? "CNN" : "ResNet") needs images")
            }
            if let skew = data.featureSkew, skew.maxRotationDegrees != 0 {
                throw .invalidValue(file: file, key: "data.feature_skew.rotation", value: "\(skew.maxRotationDegrees)",
                                    expected: "0: rotation needs image samples and \(data.dataset.name) samples are flat vectors")
            }
        }
        if let known = knownSampleShape { try checkModelFits(sampleShape: known.shape, classes: known.classes, file: file) }
    }

    /// The model must fit the server's budget: parameters × 4 bytes × `serverModelCopies()`.
    public func checkModelFits(sampleShape: [Int], classes: Int, file: String,
                               budget: UInt64 = Topology.serverMemoryBudget) throws(TopologyError) {
        let inputs = sampleShape.reduce(1, *)
        let parameters: Double
        switch model.kind {
        case .logreg: parameters = Double(inputs + 1) * Double(classes)
        case .mlp:
            let widths = [inputs] + model.hidden + [classes]
            parameters = zip(widths, widths.dropFirst()).reduce(0) { $0 + Double($1.0 + 1) * Double($1.1) }
        case .cnn, .resnet, .lstm: parameters = Double(try model.resolve(sampleShape: sampleShape, classes: classes).parameterCount)
        case .external: return  // its size is in the parameters file, read when the server starts (and by `aviary validate`)
        }
        let bytes = parameters * 4 * Double(serverModelCopies())
        guard bytes <= Double(budget) else {
            let gib = { (b: Double) in String(format: "%.1f GiB", b / Double(1 << 30)) }
            throw .invalidValue(file: file, key: model.kind == .mlp ? "model.hidden" : "model.kind",
                                value: model.kind == .mlp ? "\(model.hidden)" : "\"\(model.kind.rawValue)\"",
                                expected: "a model that fits: \(Int(parameters)) parameters × 4 bytes × \(serverModelCopies()) copies (global, merged delta, optimiser state, one delta per client of a round, or per held update in buffered mode) = \(gib(bytes)), over the budget of \(gib(Double(budget))) (a quarter of physical memory)")
        }
    }

    private func checkMerge(file: String) throws(TopologyError) {
        // In buffered mode a merge sees one buffer of K updates, not a round's clients.
        let perRound = server.buffered?.bufferSize ?? server.clientsPerRound
        let perMergeKey = server.buffered == nil ? "clients_per_round" : "buffer_size"
        switch merge.strategy {
        case .krum(let f) where perRound < 2 * f + 3:
            throw .invalidValue(file: file, key: "merge.byzantine", value: "\(f)",
                                expected: "Krum needs \(perMergeKey) ≥ 2·byzantine + 3 = \(2 * f + 3), but [server] \(perMergeKey) = \(perRound)")
        case .multiKrum(let f, let m) where perRound < max(2 * f + 3, m + f):
            throw .invalidValue(file: file, key: "merge.byzantine", value: "\(f)",
                                expected: "Multi-Krum needs \(perMergeKey) ≥ max(2·byzantine + 3, selected + byzantine) = \(max(2 * f + 3, m + f)), but [server] \(perMergeKey) = \(perRound)")
        case .mwa(let config) where config.metric == .advLoss:
            let clean = (0..<data.clients).filter { adversarial(forClient: $0).mode == .none }
            if clean.count == data.clients {
                throw .invalidValue(file: file, key: "merge.metric", value: "\"adv_loss\"",
                                    expected: "a metric clients report: no client trains adversarially ([adversarial] mode = \"none\"), so none reports adv_loss")
            }
            if !clean.isEmpty && config.missingMetric == .refuse {
                let list = clean.prefix(10).map(String.init).joined(separator: ", ") + (clean.count > 10 ? ", …" : "")
                throw .invalidValue(file: file, key: "merge.missing_metric", value: "\"refuse\"",
                                    expected: "\"uniform\" or \"skip\", or every client adversarial: clients \(list) train on mode = \"none\" and report no adv_loss")
            }
        case .mwa(let config) where config.metric == .valLoss && data.localTestFraction == 0:
            throw .invalidValue(file: file, key: "merge.metric", value: "\"val_loss\"",
                                expected: "a metric clients report: [data] local_test_fraction = 0 leaves clients no local validation split, so none reports val_loss")
        default:
            break
        }
    }
}
