import AviaryMath
import AviaryNN

/// A client's local training: the outer loop of federated adversarial learning over one pass of
/// the local data, with the inner loop (the attack) crafting examples against the current local
/// parameters before each step. Owns every buffer it needs, so batches never allocate.
public final class LocalTrainer {
    /// The training mode and its attack.
    public let spec: AdversarialTrainingSpec
    /// Valid input range (nil: unbounded).
    public let valueRange: ClosedRange<Float>?
    /// In mode `pgd`, also measure the clean CE of each batch (one extra inference forward,
    /// ≈ 0.5 of a clean training step, i.e. ≈ +5% on PGD-10). When false, "train_loss" and
    /// "train_accuracy" are absent from `pgd`'s metrics. Other modes get clean stats for free.
    public var measuresCleanLoss = true
    let network: Network
    let attacker: Attacker?
    let tradesAttacker: TradesAttacker?
    let batchInputs: UnsafeMutablePointer<Float>
    let batchLabels: UnsafeMutablePointer<Int32>
    let adversarial: UnsafeMutablePointer<Float>
    let cleanLogits: UnsafeMutablePointer<Float>
    let cleanGradient: UnsafeMutablePointer<Float>
    let adversarialGradient: UnsafeMutablePointer<Float>

    /// Validates the spec and sizes all buffers by `network.maxBatch`.
    public init(network: Network, spec: AdversarialTrainingSpec, valueRange: ClosedRange<Float>?) throws {
        try spec.validate()
        try validateValueRange(valueRange)
        self.network = network
        self.spec = spec
        self.valueRange = valueRange
        let d = network.spec.inputCount, c = network.spec.classes, n = network.maxBatch
        attacker = spec.mode == .pgd || spec.mode == .mix ? Attacker(network: network, attack: spec.attack, valueRange: valueRange) : nil
        tradesAttacker = spec.mode == .trades ? TradesAttacker(network: network, attack: spec.attack, valueRange: valueRange) : nil
        let adversarialMode = spec.mode != .none
        batchInputs = allocateAlignedFloats(n * d)
        batchLabels = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        batchLabels.initialize(repeating: 0, count: n)
        adversarial = allocateAlignedFloats(adversarialMode ? n * d : 0)
        cleanLogits = allocateAlignedFloats(adversarialMode ? n * c : 0)
        cleanGradient = allocateAlignedFloats(adversarialMode ? n * c : 0)
        adversarialGradient = allocateAlignedFloats(adversarialMode ? n * c : 0)
    }

    deinit {
        for p in [batchInputs, adversarial, cleanLogits, cleanGradient, adversarialGradient] { p.deallocate() }
        batchLabels.deallocate()
    }

    /// Index of the attack stream of a batch: epoch in the high 32 bits, batch in the low.
    public static func attackStreamIndex(epoch: Int, batch: Int) -> UInt64 {
        (UInt64(truncatingIfNeeded: epoch) << 32) | UInt64(truncatingIfNeeded: batch) & 0xFFFF_FFFF
    }

    /// One pass over the data in a seeded shuffled order (like AviaryNN's trainEpoch), stopping after `maxSteps` batches if given.
    /// The optimizer must already be set on the network (setOptimizer). Attack randomness from (attackSeed, epoch, batch):
    /// batch i of the epoch draws from `RandomStream(seed: attackSeed, purpose: .attack, index: attackStreamIndex(epoch:batch:))`.
    /// `samples` is a view of shared storage (a client's partition): batches are gathered by index.
    public func trainEpoch(samples: SampleView, batchSize: Int, shuffleSeed: UInt64, epoch: Int, attackSeed: UInt64,
                           maxSteps: Int?) -> LocalTrainingStats {
        let n = samples.count, d = network.spec.inputCount
        precondition(samples.width == d, "trainEpoch: samples have \(samples.width) values each, the model takes \(d)")
        precondition(batchSize >= 1 && batchSize <= network.maxBatch, "trainEpoch: batch size \(batchSize) is outside 1...\(network.maxBatch)")
        precondition(maxSteps.map { $0 >= 0 } ?? true, "trainEpoch: maxSteps must not be negative")
        guard n > 0 else { return LocalTrainingStats() }
        let batches = (n + batchSize - 1) / batchSize
        let limit = min(batches, maxSteps ?? batches)

        if spec.mode == .none, limit == batches {
            // The engine's own epoch: clean local training costs exactly what plain training costs.
            let stats = network.trainEpoch(samples: samples, batchSize: batchSize, shuffleSeed: shuffleSeed, epoch: epoch)
            return LocalTrainingStats(steps: batches, samples: n, clean: stats)
        }

        // Same permutation as `Network.trainEpoch`, so a truncated clean epoch is its prefix.
        var shuffle = RandomStream(seed: shuffleSeed, purpose: .shuffle, index: UInt64(epoch))
        return trainEpoch(samples: samples, order: shuffle.permutation(n), batchSize: batchSize, epoch: epoch,
                          attackSeed: attackSeed, maxSteps: limit)
    }

    /// One pass over `samples` in the given `order` (indices into `samples`; consecutive runs of
    /// `batchSize` form the batches, the last one may be shorter), stopping after `maxSteps`
    /// batches if given. Attack randomness as in `trainEpoch(samples:…shuffleSeed:…)`. The
    /// adapter–engine equivalence test drives it with an order the torch side uses as well.
    public func trainEpoch(samples: SampleView, order: [Int], batchSize: Int, epoch: Int, attackSeed: UInt64,
                           maxSteps: Int?) -> LocalTrainingStats {
        let n = order.count
        precondition(samples.width == network.spec.inputCount, "trainEpoch: samples have \(samples.width) values each, the model takes \(network.spec.inputCount)")
        precondition(batchSize >= 1 && batchSize <= network.maxBatch, "trainEpoch: batch size \(batchSize) is outside 1...\(network.maxBatch)")
        precondition(order.allSatisfy { $0 >= 0 && $0 < samples.count }, "trainEpoch: the order holds an index outside 0..<\(samples.count)")
        let batches = (n + batchSize - 1) / batchSize
        let limit = min(batches, maxSteps ?? batches)
        var total = LocalTrainingStats()
        order.withUnsafeBufferPointer { o in
            for batchIndex in 0..<limit {
                let start = batchIndex * batchSize
                let b = min(batchSize, n - start)
                samples.gather(order: o.baseAddress!, start: start, count: b, inputs: batchInputs, labels: batchLabels)
                var rng = RandomStream(seed: attackSeed, purpose: .attack,
                                       index: Self.attackStreamIndex(epoch: epoch, batch: batchIndex))
                total.add(trainBatch(batch: b, rng: &rng))
            }
        }
        return total
    }

    /// Buffer-pointer form of `trainEpoch(samples:…)` over row-per-sample features (copied once into a view).
    public func trainEpoch(features: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batchSize: Int,
                           shuffleSeed: UInt64, epoch: Int, attackSeed: UInt64, maxSteps: Int?) -> LocalTrainingStats {
        let d = network.spec.inputCount
        precondition(features.count == labels.count * d, "trainEpoch: \(features.count) features for \(labels.count) labels of \(d) inputs each")
        return trainEpoch(samples: SampleView(features: Array(features), labels: Array(labels), width: d), batchSize: batchSize,
                          shuffleSeed: shuffleSeed, epoch: epoch, attackSeed: attackSeed, maxSteps: maxSteps)
    }

    /// Array convenience for `trainEpoch(features:labels:…)`.
    public func trainEpoch(features: [Float], labels: [Int32], batchSize: Int, shuffleSeed: UInt64, epoch: Int,
                           attackSeed: UInt64, maxSteps: Int?) -> LocalTrainingStats {
        features.withUnsafeBufferPointer { f in
            labels.withUnsafeBufferPointer { l in
                trainEpoch(features: f, labels: l, batchSize: batchSize, shuffleSeed: shuffleSeed, epoch: epoch,
                           attackSeed: attackSeed, maxSteps: maxSteps)
            }
        }
    }

    /// One outer step on the batch already gathered into `batchInputs` / `batchLabels`.
    func trainBatch(batch: Int, rng: inout RandomStream) -> LocalTrainingStats {
        var stats = LocalTrainingStats(steps: 1, samples: batch)
        switch spec.mode {
        case .none:
            stats.clean = network.trainStep(inputs: batchInputs, labels: batchLabels, batch: batch)
        case .pgd:
            if measuresCleanLoss { stats.clean = cleanStats(batch: batch) }
            attacker!.perturb(inputs: batchInputs, labels: batchLabels, batch: batch, into: adversarial, rng: &rng)
            stats.adversarial = network.trainStep(inputs: adversarial, labels: batchLabels, batch: batch)
        case .mix:
            attacker!.perturb(inputs: batchInputs, labels: batchLabels, batch: batch, into: adversarial, rng: &rng)
            trainMix(batch: batch, stats: &stats)
        case .trades:
            trainTrades(batch: batch, stats: &stats, rng: &rng)
        }
        return stats
    }

    /// Clean CE and accuracy of the batch on the inference path (no gradients).
    private func cleanStats(batch: Int) -> BatchStats {
        network.predictLogits(inputs: batchInputs, batch: batch, into: cleanLogits)
        return SoftmaxCrossEntropy.forward(logits: cleanLogits, labels: batchLabels, batch: batch, classes: network.spec.classes)
    }

    /// λ·CE(x) + (1−λ)·CE(x_adv): both backward passes accumulate into the gradient buffer,
    /// each from logit gradients pre-scaled by its weight, then one optimiser step.
    private func trainMix(batch: Int, stats: inout LocalTrainingStats) {
        accumulateMixGradient(batch: batch, stats: &stats)
        network.applyOptimizerStep()
    }

    /// Sets the network's gradient buffer to ∂/∂θ [λ·mean CE(x) + (1−λ)·mean CE(x_adv)] for the
    /// batch in `batchInputs` / `adversarial`.
    func accumulateMixGradient(batch: Int, stats: inout LocalTrainingStats) {
        let c = network.spec.classes, lambda = spec.mixLambda
        network.zeroGradients()
        let logits = network.forward(inputs: batchInputs, batch: batch)
        stats.clean = SoftmaxCrossEntropy.forward(logits: logits, labels: batchLabels, batch: batch, classes: c,
                                                  dLogits: cleanGradient, gradientScale: lambda / Float(batch))
        network.backward(logitsGradient: cleanGradient, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
        let adversarialLogits = network.forward(inputs: adversarial, batch: batch)
        stats.adversarial = SoftmaxCrossEntropy.forward(logits: adversarialLogits, labels: batchLabels, batch: batch, classes: c,
                                                        dLogits: adversarialGradient, gradientScale: (1 - lambda) / Float(batch))
        network.backward(logitsGradient: adversarialGradient, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
    }

    /// TRADES: CE(f(x), y) + β·KL(f(x) ‖ f(x_adv)), averaged over the batch, with the gradient
    /// flowing through both f(x) and f(x_adv) (as in Zhang et al.'s reference code).
    private func trainTrades(batch: Int, stats: inout LocalTrainingStats, rng: inout RandomStream) {
        network.predictLogits(inputs: batchInputs, batch: batch, into: cleanLogits)
        tradesAttacker!.perturb(inputs: batchInputs, cleanLogits: cleanLogits, batch: batch, into: adversarial, rng: &rng)
        accumulateTradesGradient(batch: batch, stats: &stats)
        network.applyOptimizerStep()
    }

    /// Sets the network's gradient buffer to ∂/∂θ [mean CE(f(x)) + β·mean KL(f(x) ‖ f(x_adv))]
    /// for the batch in `batchInputs` / `adversarial`; `cleanLogits` must hold f(x).
    func accumulateTradesGradient(batch: Int, stats: inout LocalTrainingStats) {
        let c = network.spec.classes, scale = spec.tradesBeta / Float(batch)
        network.zeroGradients()
        let adversarialLogits = network.forward(inputs: adversarial, batch: batch)
        stats.adversarial = SoftmaxCrossEntropy.forward(logits: adversarialLogits, labels: batchLabels, batch: batch, classes: c)
        stats.klSum = SoftmaxKL.divergence(cleanLogits: cleanLogits, adversarialLogits: adversarialLogits, batch: batch,
                                           classes: c, scale: scale, adversarialGradient: adversarialGradient,
                                           cleanGradient: cleanGradient)
        network.backward(logitsGradient: adversarialGradient, batch: batch, accumulateParameterGradients: true, inputGradient: nil)

        // The clean pass reproduces `cleanLogits` (same parameters); its CE gradient joins the KL one.
        let logits = network.forward(inputs: batchInputs, batch: batch)
        stats.clean = SoftmaxCrossEntropy.forward(logits: logits, labels: batchLabels, batch: batch, classes: c,
                                                  dLogits: adversarialGradient, gradientScale: 1 / Float(batch))
        for i in 0..<(batch * c) { cleanGradient[i] += adversarialGradient[i] }
        network.backward(logitsGradient: cleanGradient, batch: batch, accumulateParameterGradients: true, inputGradient: nil)
    }
}
