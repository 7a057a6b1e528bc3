@testable import AviaryMerge
import AviaryMath

/// Small builders shared by the merge tests.
enum Fixtures {
    static func update(_ index: Int, _ delta: [Float], samples: Int = 1, loss: Double? = nil,
                       steps: Double? = nil) -> ClientUpdate {
        var metrics: [String: Double] = ["dataset_size": Double(samples)]
        if let loss { metrics["train_loss"] = loss }
        if let steps { metrics["local_steps"] = steps }
        return ClientUpdate(clientIndex: index, samples: samples, metrics: metrics, delta: delta)
    }

    /// n updates of length p, normal values, positive losses and sample counts, all from one stream.
    static func randomUpdates(n: Int, p: Int, seed: UInt64) -> [ClientUpdate] {
        var rng = RandomStream(seed: seed, purpose: .synthetic, index: 0)
        return (0..<n).map { i in
            let delta = (0..<p).map { _ in Float(rng.normal()) }
            let samples = 1 + rng.nextInt(below: 500)
            return ClientUpdate(clientIndex: i * 3 + 1, samples: samples,
                                metrics: ["train_loss": rng.uniform(0.05, 3), "local_steps": Double(1 + rng.nextInt(below: 90)),
                                          "adv_loss": rng.uniform(0.5, 4), "dataset_size": Double(samples)],
                                delta: delta)
        }
    }

    /// Every strategy, with parameters that work for at least 7 updates.
    static let allStrategies: [AggregationStrategy] = [
        .fedavg, .fedavgSamplesProcessed, .uniform,
        .mwa(MWAConfig(metric: .trainLoss, penalty: 2)),
        .mwa(MWAConfig(metric: .steps, penalty: 1.5, combineWithSamples: true)),
        .median, .trimmedMean(beta: 0.2), .krum(byzantine: 2), .multiKrum(byzantine: 2, selected: 3),
    ]

    static func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-6) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }
}
