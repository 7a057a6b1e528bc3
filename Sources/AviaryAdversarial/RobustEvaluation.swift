import AviaryMath
import AviaryNN

/// Server-side robust evaluation: loss and accuracy of the current parameters on adversarial
/// examples crafted against them, over a fixed seeded subset of the test set.
public enum RobustEvaluation {
    /// Adversarial loss/accuracy of the network's current parameters on the first `subset` samples of a seeded permutation of the data.
    /// The permutation is `RandomStream(seed:, purpose: .evaluation, index: 0)`; chunk i's attack
    /// start draws from `RandomStream(seed:, purpose: .attack, index: i)`. Loss and accuracy are
    /// measured on the inference path at the final adversarial point. `samples` is a view of
    /// shared storage; chunks are gathered by index.
    /// APGD kinds (`APGDAttacker`): accuracy counts the samples no iterate misclassified; the loss
    /// is the cross-entropy at the points the attacker returns (first misclassified iterate, else
    /// the best point of its last run).
    public static func evaluate(network: Network, samples: SampleView, attack: AttackSpec, valueRange: ClosedRange<Float>?,
                                subset: Int, batchSize: Int, seed: UInt64) -> BatchStats {
        let n = samples.count, d = network.spec.inputCount, c = network.spec.classes
        precondition(samples.width == d, "RobustEvaluation: samples have \(samples.width) values each, the model takes \(d)")
        let total = min(max(subset, 0), n)
        guard total > 0 else { return BatchStats() }
        var permutation = RandomStream(seed: seed, purpose: .evaluation, index: 0)
        let order = permutation.permutation(n)
        let chunk = max(1, min(batchSize, network.maxBatch))
        let attacker = attack.kind.isAPGD ? nil : Attacker(network: network, attack: attack, valueRange: valueRange)
        let apgd = attack.kind.isAPGD ? APGDAttacker(network: network, attack: attack, valueRange: valueRange) : nil
        let robust = UnsafeMutablePointer<Bool>.allocate(capacity: chunk)
        robust.initialize(repeating: false, count: chunk)
        let inputs = allocateAlignedFloats(chunk * d), adversarial = allocateAlignedFloats(chunk * d)
        let logits = allocateAlignedFloats(chunk * c)
        let batchLabels = UnsafeMutablePointer<Int32>.allocate(capacity: chunk)
        defer {
            inputs.deallocate(); adversarial.deallocate(); logits.deallocate(); batchLabels.deallocate(); robust.deallocate()
        }
        var stats = BatchStats()
        order.withUnsafeBufferPointer { o in
            var start = 0, chunkIndex: UInt64 = 0
            while start < total {
                let b = min(chunk, total - start)
                samples.gather(order: o.baseAddress!, start: start, count: b, inputs: inputs, labels: batchLabels)
                var rng = RandomStream(seed: seed, purpose: .attack, index: chunkIndex)
                attacker?.perturb(inputs: inputs, labels: batchLabels, batch: b, into: adversarial, rng: &rng)
                apgd?.perturb(inputs: inputs, labels: batchLabels, batch: b, into: adversarial, robust: robust, rng: &rng)
                network.predictLogits(inputs: adversarial, batch: b, into: logits)
                var chunkStats = SoftmaxCrossEntropy.forward(logits: logits, labels: batchLabels, batch: b, classes: c)
                if apgd != nil { chunkStats.correct = (0..<b).reduce(0) { $0 + (robust[$1] ? 1 : 0) } }
                stats.add(chunkStats)
                start += b
                chunkIndex += 1
            }
        }
        return stats
    }

    /// Array form of `evaluate(network:samples:…)` (the arrays are copied once into a view).
    public static func evaluate(network: Network, features: [Float], labels: [Int32], attack: AttackSpec, valueRange: ClosedRange<Float>?,
                                subset: Int, batchSize: Int, seed: UInt64) -> BatchStats {
        let d = network.spec.inputCount
        precondition(features.count == labels.count * d, "RobustEvaluation: \(features.count) features for \(labels.count) labels of \(d) inputs each")
        return evaluate(network: network, samples: SampleView(features: features, labels: labels, width: d), attack: attack,
                        valueRange: valueRange, subset: subset, batchSize: batchSize, seed: seed)
    }

    /// `evaluate` with the attack and subset size of a `RobustEvaluationSpec`.
    public static func evaluate(network: Network, features: [Float], labels: [Int32], spec: RobustEvaluationSpec,
                                valueRange: ClosedRange<Float>?, batchSize: Int, seed: UInt64) -> BatchStats {
        evaluate(network: network, features: features, labels: labels, attack: spec.attack, valueRange: valueRange,
                 subset: spec.subset, batchSize: batchSize, seed: seed)
    }
}
