import AviaryNN

/// What one local training run measured, as sums, plus the metrics dictionary clients report.
public struct LocalTrainingStats: Sendable, Hashable {
    /// Optimiser steps taken (batches trained on).
    public var steps: Int
    /// Training samples seen (sum of batch sizes).
    public var samples: Int
    /// Cross-entropy and accuracy on the clean training batches, under the parameters before
    /// each batch's update.
    public var clean: BatchStats
    /// Cross-entropy and accuracy on the adversarial batches (empty in mode `none`).
    public var adversarial: BatchStats
    /// Sum over samples of KL(f(x) ‖ f(x_adv)) (TRADES only; 0 otherwise).
    public var klSum: Double

    public init(steps: Int = 0, samples: Int = 0, clean: BatchStats = BatchStats(),
                adversarial: BatchStats = BatchStats(), klSum: Double = 0) {
        self.steps = steps; self.samples = samples; self.clean = clean
        self.adversarial = adversarial; self.klSum = klSum
    }

    /// Adds another run's sums (e.g. of a further local epoch) to these.
    public mutating func add(_ other: LocalTrainingStats) {
        steps += other.steps
        samples += other.samples
        clean.add(other.clean)
        adversarial.add(other.adversarial)
        klSum += other.klSum
    }

    /// The client's UPDATE metrics:
    /// - "train_loss", "train_accuracy": mean clean CE and accuracy on the training batches
    ///   (in every mode, so runs with and without adversarial training compare directly,
    ///   unless `LocalTrainer.measuresCleanLoss` was switched off for `pgd`);
    /// - "adv_loss", "adv_accuracy": the same on the adversarial batches (absent in mode `none`,
    ///   where none are crafted);
    /// - "trades_kl": mean KL(f(x) ‖ f(x_adv)) (TRADES only);
    /// - "local_steps", "samples": counts.
    public var metrics: [String: Double] {
        var m: [String: Double] = ["local_steps": Double(steps), "samples": Double(samples)]
        if clean.count > 0 {
            m["train_loss"] = clean.meanLoss
            m["train_accuracy"] = clean.accuracy
        }
        if adversarial.count > 0 {
            m["adv_loss"] = adversarial.meanLoss
            m["adv_accuracy"] = adversarial.accuracy
        }
        if klSum != 0 { m["trades_kl"] = klSum / Double(max(samples, 1)) }
        return m
    }
}
