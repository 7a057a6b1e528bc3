import AviaryAdversarial
import AviaryMath
import AviaryNN

/// Throughput of adversarial local training: PGD-10 (ℓ∞, ε 0.3, α 0.01, random start, train on
/// the adversarial batch) against clean training of the 784-200-200-10 MLP, measured in one run
/// so the ratio is meaningful on a shared, noisy machine.
public enum AdversarialBench {
    /// Repetitions per configuration; the median is reported.
    static let repetitions = 5

    /// Times `steps` batches of `batch` synthetic samples per repetition on `threads` BLAS
    /// threads and returns a human-readable report (samples/s, medians, and the cost ratio).
    public static func run(steps: Int, batch: Int, threads: Int) -> String {
        precondition(steps >= 1 && batch >= 1, "AdversarialBench: steps and batch must be at least 1")
        BLAS.setThreads(threads)
        let model = ModelSpec.mcMahan2NN
        let n = steps * batch, d = model.inputCount
        var rng = RandomStream(seed: 1, purpose: .synthetic, index: 0)
        let features = (0..<(n * d)).map { _ in rng.nextFloat() }
        let labels = (0..<n).map { _ in Int32(rng.nextInt(below: model.classes)) }
        let attack = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.3, stepSize: 0.01, steps: 10, randomStart: true)
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
        adversarial bench: MLP 784-200-200-10, batch \(batch), \(steps) steps × \(repetitions) repetitions (median), \(threads) BLAS thread(s)
          clean training      \(fmt(cleanRate)) samples/s
          PGD-10 training     \(fmt(pgdRate)) samples/s   (\(attack.summary), random start, train on adversarial batch)
          cost ratio          \(fmt(median(ratios), 2))×   (median of per-repetition ratios; arithmetic floor ≈ 10.0×)
          with clean metrics  \(fmt(fullRate)) samples/s, ratio \(fmt(median(fullRatios), 2))×   (LocalTrainer default: + one clean forward per batch)
          targets: ≥ 6,000 samples/s and ratio ≤ 11; PyTorch 1 thread ≈ 3,250 samples/s
        """
    }
}
