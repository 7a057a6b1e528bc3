import AviaryAdversarial
import Dispatch
import AviaryData
import AviaryLog
import AviaryMath
import AviaryNN

/// Evaluates the global model on the server's held-out split: clean loss and accuracy every
/// eval round, PGD-robust accuracy on a fixed seeded subset when the topology asks for it.
final class GlobalEvaluator {
    let network: Network
    let test: Dataset
    let robust: RobustEvaluationSpec?
    let seed: UInt64
    static let batchSize = 256

    /// Held apart from `test` when a validation fraction is set; nil otherwise.
    let validation: Dataset?

    /// A second network of the same spec on another thread takes the second half of a clean
    /// evaluation's chunks: the server evaluates while the clients wait for the next model, so
    /// both cores are free. Each chunk's stats have the same bits on either network, and they
    /// are added in chunk order, so the result is the one network's (`Network.chunkStats`).
    /// nil: one network (a test set of one chunk, or a network above `twinBudget`).
    let twin: Network?
    /// A network's buffers hold activations, gradients and im2col columns for 256 samples: a
    /// few MB for the MLP, hundreds for the CNN and ResNet-20, whose evaluation stays on one
    /// network rather than doubling the server's memory.
    static let twinBudget = 64 << 20

    init(model: ModelSpec, test heldOut: Dataset, validationFraction: Double, robust: RobustEvaluationSpec?, seed: UInt64) throws {
        network = try Network(spec: model, maxBatch: Self.batchSize)
        (test, validation) = ValidationSplit.split(heldOut, fraction: validationFraction, seed: seed)
        self.robust = robust
        self.seed = seed
        let chunks = Network.chunkCount(samples: max(test.samples.count, validation?.samples.count ?? 0),
                                        batchSize: Self.batchSize, maxBatch: Self.batchSize)
        twin = chunks >= 2 && network.allocatedBytes <= Self.twinBudget ? try Network(spec: model, maxBatch: Self.batchSize) : nil
        try robust?.attack.validate(classes: model.classes)
    }

    /// Clean loss and accuracy over `samples`: the first half of the chunks here, the second
    /// half on `twin` on another thread, added in chunk order.
    private func clean(_ samples: SampleView) -> BatchStats {
        let chunks = Network.chunkCount(samples: samples.count, batchSize: Self.batchSize, maxBatch: network.maxBatch)
        guard let twin, chunks >= 2 else { return network.evaluate(samples: samples, batchSize: Self.batchSize) }
        let split = (chunks + 1) / 2
        let other = ChunkJob(network: twin, samples: samples, chunks: split..<chunks)
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) { other.run() }
        var stats = BatchStats()
        for c in network.chunkStats(samples: samples, batchSize: Self.batchSize, chunks: 0..<split) { stats.add(c) }
        done.wait()
        for c in other.result { stats.add(c) }
        return stats
    }

    /// The initial global model: PyTorch-default init from the training seed.
    func initialParameters(seed: UInt64) -> [Float] {
        network.initialise(seed: seed)
        return network.parametersArray()
    }

    func evaluate(_ parameters: [Float], robustRound: Bool) -> Evaluation {
        network.loadParameters(parameters)
        twin?.loadParameters(parameters)
        let clean = clean(test.samples)
        var result = Evaluation(cleanAccuracy: clean.accuracy, cleanLoss: clean.meanLoss, samples: clean.count)
        if let validation {
            let v = self.clean(validation.samples)
            result.validationLoss = v.meanLoss
            result.validationSamples = v.count
        }
        if robustRound, let robust {
            let adv = RobustEvaluation.evaluate(network: network, samples: test.samples,
                                                attack: robust.attack, valueRange: test.valueRange,
                                                subset: robust.subset, batchSize: Self.batchSize, seed: seed)
            result.robustAccuracy = adv.accuracy
            result.robustSamples = adv.count
            result.attack = robust.attack.summary
        }
        return result
    }
}

/// The twin network's half of an evaluation, run on a Dispatch thread (never the cooperative pool).
/// `@unchecked Sendable`: between `async` and the group's `wait` only that thread touches
/// `network` and `result`; the evaluator touches them only before and after.
private final class ChunkJob: @unchecked Sendable {
    let network: Network
    let samples: SampleView
    let chunks: Range<Int>
    private(set) var result: [BatchStats] = []

    init(network: Network, samples: SampleView, chunks: Range<Int>) {
        self.network = network; self.samples = samples; self.chunks = chunks
    }

    func run() { result = network.chunkStats(samples: samples, batchSize: GlobalEvaluator.batchSize, chunks: chunks) }
}
