import AviaryMath
import AviaryNN
import Foundation

/// Training-throughput benchmark of the NN engine: samples/s of full training steps
/// (forward + backward + plain-SGD update) on synthetic data, next to a same-run sgemm probe on
/// exactly the model's matrix shapes, so the table shows how close the engine gets to what
/// OpenBLAS allows. Medians of several repetitions; the machine is shared, so compare ratios.
public struct TrainBench {
    /// One measured configuration.
    public struct Row: Sendable {
        public let model: String, threads: Int, batch: Int
        /// The model's trainable parameters (a PyTorch probe of the same model must match it).
        public let parameters: Int
        public let samplesPerSecond: Double
        public let gflops: Double
        /// Throughput of the model's own sgemm shapes alone, same run.
        public let sgemmGflops: Double
        /// Samples/s of attack steps (forward + input gradient, no weight gradients), as in PGD.
        public let attackSamplesPerSecond: Double
        /// Achieved GFLOP/s over the sgemm probe's.
        public var efficiency: Double { sgemmGflops > 0 ? gflops / sgemmGflops : 0 }
    }

    /// Model names accepted by `run`: "mlp" (McMahan 2NN), "cnn" (McMahan CNN), "logreg",
    /// "resnet8"/"resnet20" (GroupNorm, 3×32×32, 10 classes) and "lstm" (LEAF's Shakespeare model;
    /// synthetic token inputs).
    public static func spec(named name: String) -> ModelSpec? {
        switch name {
        case "mlp", "2nn": return .mcMahan2NN
        case "cnn": return .mcMahanCNN
        case "logreg": return .logreg(inputs: 784, classes: 10)
        case "resnet8": return .resnet(.cifar(depth: 8))
        case "resnet20": return .resnet(.cifar(depth: 20))
        case "lstm": return .charLSTM(CharLSTMSpec(vocabulary: 80, context: 80, classes: 80))
        default: return nil
        }
    }

    /// Measures every model × threads × batch combination: training steps and the sgemm probe for
    /// about `seconds` each and attack steps for half that, split over `repetitions` alternating
    /// slices (medians taken). Leaves OpenBLAS at its previous thread count.
    public static func measure(models: [String], batches: [Int], threads: [Int], seconds: Double,
                               repetitions: Int = 5) -> [Row] {
        let previousThreads = BLAS.threads
        defer { BLAS.setThreads(previousThreads) }
        var rows: [Row] = []
        for name in models {
            guard let spec = spec(named: name) else { continue }
            for t in threads {
                BLAS.setThreads(t)
                for batch in batches {
                    guard let net = try? Network(spec: spec, maxBatch: batch) else { continue }
                    rows.append(measure(name: name, net: net, threads: t, batch: batch,
                                        seconds: seconds, repetitions: max(1, repetitions)))
                }
            }
        }
        return rows
    }

    /// Runs the benchmark and formats it as a table.
    public static func run(models: [String] = ["mlp", "cnn"], batches: [Int] = [32, 64], threads: [Int] = [1, 2],
                           seconds: Double = 2, repetitions: Int = 5) -> String {
        let rows = measure(models: models, batches: batches, threads: threads, seconds: seconds, repetitions: repetitions)
        var out = "model      parameters  threads  batch   samples/s   GFLOP/s   sgemm-probe GFLOP/s   efficiency   attack samples/s   train/attack\n"
        for r in rows {
            out += String(format: "%-10@ %10d %8d %6d %11.0f %9.1f %21.1f %11.0f%% %18.0f %14.2f\n",
                          r.model as NSString, r.parameters, r.threads, r.batch, r.samplesPerSecond, r.gflops, r.sgemmGflops,
                          100 * r.efficiency, r.attackSamplesPerSecond, r.samplesPerSecond / max(r.attackSamplesPerSecond, 1))
        }
        let unknown = models.filter { spec(named: $0) == nil }
        if !unknown.isEmpty { out += "unknown models skipped: \(unknown.joined(separator: ", ")) (use mlp, cnn, logreg, resnet8, resnet20 or lstm)\n" }
        return out
    }

    private static func measure(name: String, net: Network, threads: Int, batch: Int, seconds: Double, repetitions: Int) -> Row {
        let d = net.spec.inputCount, pool = 16 * batch
        var rng = RandomStream(seed: 1, purpose: .synthetic)
        let x = (0..<(pool * d)).map { _ in rng.nextFloat() }
        let y = (0..<pool).map { _ in Int32(rng.nextInt(below: net.spec.classes)) }
        net.initialise(seed: 1)
        // A tiny learning rate keeps the synthetic run numerically tame for any duration.
        net.setOptimizer(SGDConfig(learningRate: 1e-4), anchor: nil)
        let gemms = net.trainingGemms(batch: batch)
        let flopsPerSample = Double(gemms.reduce(0) { $0 + $1.flops }) / Double(batch)
        let slice = seconds / Double(repetitions)

        // Step and probe repetitions alternate, so load changes on the shared machine hit both alike.
        let probe = SgemmProbe(shapes: gemms)
        var stepRates: [Double] = [], probeRates: [Double] = [], attackRates: [Double] = []
        let inputGradient = UnsafeMutablePointer<Float>.allocate(capacity: batch * d)
        inputGradient.initialize(repeating: 0, count: batch * d)
        defer { inputGradient.deallocate() }
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                var i = 0
                let step = {
                    let offset = (i % 16) * batch
                    _ = net.trainStep(inputs: xp.baseAddress! + offset * d, labels: yp.baseAddress! + offset, batch: batch)
                    i += 1
                }
                let attack = {
                    let offset = (i % 16) * batch
                    _ = net.lossAndInputGradient(inputs: xp.baseAddress! + offset * d, labels: yp.baseAddress! + offset,
                                                 batch: batch, inputGradient: inputGradient)
                    i += 1
                }
                for _ in 0..<3 { step(); probe.run(); attack() }
                for _ in 0..<repetitions {
                    stepRates.append(callsPerSecond(step, seconds: slice))
                    probeRates.append(callsPerSecond({ probe.run() }, seconds: slice))
                    attackRates.append(callsPerSecond(attack, seconds: slice / 2))
                }
            }
        }
        let samplesPerSecond = median(stepRates) * Double(batch)
        let probeRate = median(probeRates)
        let probeFlops = Double(gemms.reduce(0) { $0 + $1.flops })
        return Row(model: name, threads: threads, batch: batch, parameters: net.parameterCount, samplesPerSecond: samplesPerSecond,
                   gflops: samplesPerSecond * flopsPerSample / 1e9, sgemmGflops: probeRate * probeFlops / 1e9,
                   attackSamplesPerSecond: median(attackRates) * Double(batch))
    }

    /// Calls per second of `body`, called repeatedly for about `seconds`.
    private static func callsPerSecond(_ body: () -> Void, seconds: Double) -> Double {
        let clock = ContinuousClock()
        var calls = 0
        let start = clock.now
        var elapsed = 0.0
        repeat {
            body()
            calls += 1
            let d = clock.now - start
            elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        } while elapsed < seconds
        return Double(calls) / elapsed
    }

    private static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
}

/// Random operands for a list of sgemm shapes, run back to back (beta = 1, like the engine's
/// accumulating calls), as the upper bound the engine's matrix work could reach. The list is
/// the engine's own calls (a chunked convolution's chunks one by one); calls of the same shape
/// share their operands, as a chunked convolution's calls share their weights and column buffer.
private final class SgemmProbe {
    private let shapes: [GemmShape]
    private var operands: [GemmShape: (a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>)] = [:]

    init(shapes: [GemmShape]) {
        self.shapes = shapes
        func filled(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0.001, count: n)
            return p
        }
        for s in shapes where operands[s] == nil {
            operands[s] = (filled(s.m * s.k), filled(s.k * s.n), filled(s.m * s.n))
        }
    }

    deinit { for o in operands.values { o.a.deallocate(); o.b.deallocate(); o.c.deallocate() } }

    func run() {
        for s in shapes {
            let o = operands[s]!
            BLAS.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1,
                       a: o.a, lda: s.transA ? s.m : s.k, b: o.b, ldb: s.transB ? s.k : s.n,
                       beta: 1, c: o.c, ldc: s.n)
        }
    }
}
