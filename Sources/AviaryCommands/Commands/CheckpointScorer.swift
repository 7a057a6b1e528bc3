import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryNN
import AviaryTopology
import Foundation

/// A topology's model and the server's reported test set, built once (as the server builds them:
/// same test_samples, same validation share held apart), to score many parameter vectors clean
/// and under attacks: `aviary eval` scores one checkpoint, the checkpoint-merging study dozens.
final class CheckpointScorer {
    let topology: Topology
    let test: Dataset
    let spec: ModelSpec
    let network: Network
    static let batch = 256

    init(topology topo: Topology) throws {
        topology = topo
        let data = try FederatedDataset(spec: topo.data)
        test = ValidationSplit.split(data.globalTest(), fraction: topo.validationFraction, seed: topo.seeds.training).test
        spec = try topo.model.resolve(sampleShape: test.sampleShape, classes: test.classes)
        network = try Network(spec: spec, maxBatch: Self.batch)
    }

    /// A checkpoint's parameters in the model's order; refuses one whose tensors do not match.
    func parameters(checkpoint: String) throws -> [Float] {
        let file = try Safetensors.read(path: checkpoint)
        try RunDirectory.checkCheckpointFormat(file.metadata, path: checkpoint)
        if let detail = EvalCommand.mismatch(expected: network.layout, found: file.tensors) {
            throw EvalCommand.Failure.mismatch(file: checkpoint, detail: detail)
        }
        return try file.flatValues(order: network.layout.tensors.map(\.name))
    }

    /// Clean accuracy on the whole test set, then robust accuracy under each attack on a seeded
    /// subset of `samples` (default: the topology's robust subset, else 1,000), in the server's
    /// seed and subset order, so the topology's own attack reproduces its robust accuracy.
    func score(_ parameters: [Float], attacks: [AttackSpec], samples: Int?) throws -> [EvalCommand.Row] {
        for attack in attacks { try attack.validate(classes: spec.classes) }
        network.loadParameters(parameters)
        var rows = [EvalCommand.Row]()
        var started = Date()
        let clean = network.evaluate(samples: test.samples, batchSize: Self.batch)
        rows.append(.init(attack: "clean", accuracy: clean.accuracy, loss: clean.meanLoss, samples: clean.count,
                          seconds: Date().timeIntervalSince(started)))
        let subset = samples ?? topology.robustEvaluation?.subset ?? 1000
        for attack in attacks {
            started = Date()
            let s = RobustEvaluation.evaluate(network: network, samples: test.samples, attack: attack, valueRange: test.valueRange,
                                              subset: subset, batchSize: Self.batch, seed: topology.seeds.training)
            rows.append(.init(attack: attack.summary, accuracy: s.accuracy, loss: s.meanLoss, samples: s.count,
                              seconds: Date().timeIntervalSince(started)))
        }
        return rows
    }
}
