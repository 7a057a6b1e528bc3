import AviaryAdversarial
import AviaryMath
import AviaryNN

/// Throughput of adversarial local training: PGD-k (ℓ∞, ε 0.3, α 0.01, random start, train on
/// the adversarial batch) against clean training of the same model (the 784-200-200-10 MLP or
/// McMahan's CNN), measured in one run so the ratio is meaningful on a shared, noisy machine.
/// PGD-k costs k attack passes (forward + input gradient) and one training pass, so k + 1 clean
/// passes is the arithmetic reference the ratio is read against.
public enum AdversarialBench {
    /// Repetitions per configuration; the median is reported.
    static let repetitions = 5

    /// Batches per repetition: enough for a stable time, few enough that the CNN's
    /// 5 × 3 × (k + 2) passes stay under a minute on one core.
    public static func batches(for model: String) -> Int { model == "cnn" ? 4 : 10 }

    /// Times `steps` batches of `batch` synthetic samples per repetition on `threads` BLAS
    /// threads and returns a human-readable report (samples/s, medians, and the cost ratio).
    public static func run(model name: String = "mlp", steps: Int, batch: Int, threads: Int, attackSteps k: Int = 10) -> String {
        precondition(steps >= 1 && batch >= 1 && k >= 1, "AdversarialBench: steps, batch and attack steps must be at least 1")
        let model: ModelSpec, title: String
        switch name {
        case "mlp": (model, title) = (.mcMahan2NN, "MLP 784-200-200-10")
        case "cnn": (model, title) = (.mcMahanCNN, "CNN (McMahan, 1.66 M parameters)")
        default: return "adversarial bench: model \(name) is not measured here (use mlp or cnn)"
        }
        BLAS.setThreads(threads)
        let n = steps * batch, d = model.inputCount
        var rng = RandomStream(seed: 1, purpose: .synthetic, index: 0)
        let features = (0..<(n * d)).map { _ in rng.nextFloat() }
        let labels = (0..<n).map { _ in Int32(rng.nextInt(below: model.classes)) }
        let attack = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.3, stepSize: 0.01, steps: k, randomStart: true)
        let network: Network, clean: LocalTrainer, pgd: LocalTrainer, pgdWithCleanLoss: LocalTrainer
        do {
            network = try Network(spec: model, maxBatch: batch)
            clean = try LocalTrainer(network: network, spec: .clean, valueRange: 0...1)
            let spec = AdversarialTrainingSpec(mode: .pgd, attack: attack)
            pgd = try LocalTrainer(network: network, spec: spec, valueRange: 0...1)
            pgd.measuresCleanLoss = false
            pgdWithCleanLoss = try LocalTrainer(network: network, spec: spec, valueRange: 0...1)
        } catch {
            return "adversarial bench: cannot build the network: \(error)"
        }
        network.initialise(seed: 1)
        network.setOptimizer(SGDConfig(learningRate: 0.05), anchor: nil)
        let samples = SampleView(features: features, labels: labels, width: d)  // as a client holds its data: a view

        func seconds(_ trainer: LocalTrainer, epoch: Int) -> Double {
            let start = ContinuousClock.now
            _ = trainer.trainEpoch(samples: samples, batchSize: batch, shuffleSeed: 1, epoch: epoch,
                                   attackSeed: 2, maxSteps: nil)
            let c = (ContinuousClock.now - start).components
            return Double(c.seconds) + Double(c.attoseconds) * 1e-18
        }
        _ = seconds(clean, epoch: 0)
        _ = seconds(pgd, epoch: 0)
        // Interleaved so that load from other processes hits all three alike.
        var cleanTimes: [Double] = [], pgdTimes: [Double] = [], fullTimes: [Double] = []
        var ratios: [Double] = [], fullRatios: [Double] = []
        for r in 1...repetitions {
            let c = seconds(clean, epoch: r), p = seconds(pgd, epoch: r), f = seconds(pgdWithCleanLoss, epoch: r)
            cleanTimes.append(c); pgdTimes.append(p); fullTimes.append(f)
            ratios.append(p / c); fullRatios.append(f / c)
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let cleanRate = Double(n) / median(cleanTimes), pgdRate = Double(n) / median(pgdTimes)
        let fullRate = Double(n) / median(fullTimes)
        func fmt(_ x: Double, _ digits: Int = 0) -> String {
            let scale = (0..<digits).reduce(1.0) { a, _ in a * 10 }
            return String(Double((x * scale).rounded()) / scale)
        }
        return """
        adversarial bench: \(title), batch \(batch), \(steps) batches × \(repetitions) repetitions (median), \(threads) BLAS thread(s)
          clean training      \(fmt(cleanRate)) samples/s
          PGD-\(k) training     \(fmt(pgdRate)) samples/s   (\(attack.summary), random start, train on adversarial batch)
          cost ratio          \(fmt(median(ratios), 2))× = \(fmt(median(ratios) / Double(k + 1), 3)) × (k+1)   (median of per-repetition ratios; k + 1 = \(k + 1) clean passes)
          with clean metrics  \(fmt(fullRate)) samples/s, ratio \(fmt(median(fullRatios), 2))×   (LocalTrainer default: + one clean forward per batch)
        """
    }
}
