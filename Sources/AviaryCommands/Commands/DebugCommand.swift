import ArgumentParser
import Foundation
import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMath
import AviaryNN

/// `aviary debug`: hidden tools for cross-checking the engine against other implementations.
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Tools that cross-check the engine (for tests; not part of the documented interface).",
        shouldDisplay: false,
        subcommands: [LocalEpochCommand.self, PermutationCommand.self])
}

/// `aviary debug permutation`: a seeded stream's permutation, one index per line, so other
/// implementations of the engine's shuffles (the Python SDK's) are checked against it.
struct PermutationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "permutation", abstract: "Print RandomStream(seed, purpose, index).permutation(count), one per line.")

    @Option var seed: UInt64
    @Option(help: "The stream's purpose by its number (shuffle = 4, evaluation = 7).") var purpose: UInt64
    @Option var index: UInt64 = 0
    @Option var count: Int

    func run() throws {
        guard let p = RandomStream.Purpose(rawValue: purpose) else { throw ValidationError("--purpose \(purpose) is not a stream purpose") }
        guard count >= 0 else { throw ValidationError("--count must not be negative") }
        var stream = RandomStream(seed: seed, purpose: p, index: index)
        say(stream.permutation(count).map(String.init).joined(separator: "\n"))
    }
}

/// `aviary debug local-epoch`: one local epoch of the engine's `LocalTrainer` on given weights
/// and a given batch order over Fashion-MNIST's training set, writing the delta. The torch
/// adapter's equivalence test (Tests/Python/test_torch_equivalence.py) runs the same epoch in
/// PyTorch and compares the two deltas.
struct LocalEpochCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-epoch",
        abstract: "One LocalTrainer epoch of the Fashion-MNIST MLP from --init in --order; writes the delta (after − before).")

    @Option(name: .customLong("init"), help: "Initial weights (safetensors, F32), named as the engine's MLP (fc1.weight, fc1.bias, …).")
    var initial: String
    @Option(help: "Sample order: a 1-D integer .npy of indices into the training set; consecutive runs of --batch-size are the batches.")
    var order: String
    @Option(help: "Where to write the delta (safetensors, the model's tensor names).")
    var out: String
    @Option(help: "Where to write the epoch's metrics (JSON), optional.")
    var metrics: String?
    @Option(help: "Directory with Fashion-MNIST's IDX files.")
    var data = "/usr/share/datasets/fashion-mnist"
    @Option(help: "Hidden layer sizes of the MLP, comma-separated.")
    var hidden = "200,200"
    @Option(name: .customLong("batch-size")) var batchSize = 32
    @Option(name: .customLong("learning-rate")) var learningRate: Float = 0.05
    @Option var momentum: Float = 0
    @Option(name: .customLong("weight-decay")) var weightDecay: Float = 0
    @Option(name: .customLong("proximal-mu")) var proximalMu: Float = 0
    @Option(help: "Training mode: none, pgd, mix or trades.") var mode = "pgd"
    @Option(help: "Attack: fgsm or pgd.") var attack = "pgd"
    @Option(help: "Norm: linf or l2.") var norm = "linf"
    @Option var epsilon: Float = 0.1
    @Option(name: .customLong("step-size")) var stepSize: Float = 0.01
    @Option var steps = 10
    @Flag(name: .customLong("random-start"), help: "Start PGD from a random point of the ball (off by default).")
    var randomStart = false
    @Option(name: .customLong("mix-lambda")) var mixLambda: Float = 0.5
    @Option(name: .customLong("trades-beta")) var tradesBeta: Float = 6
    @Option(name: .customLong("attack-seed")) var attackSeed: UInt64 = 0

    enum Failure: Error, CustomStringConvertible {
        case badChoice(option: String, value: String, expected: String)
        case tensor(path: String, problem: String)

        var description: String {
            switch self {
            case let .badChoice(option, value, expected): "--\(option) \(value): expected \(expected)"
            case let .tensor(path, problem): "\(path): \(problem)"
            }
        }
    }

    func run() throws {
        do {
            BLAS.setThreads(1)
            let widths = hidden.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard widths.count == hidden.split(separator: ",").count, widths.allSatisfy({ $0 >= 1 }) else {
                throw Failure.badChoice(option: "hidden", value: hidden, expected: "positive sizes, comma-separated (200,200)")
            }
            let spec = try trainingSpec()
            let train = try IDXLoader.loadFashionMNIST(directory: data).train
            let indices = try NPYLoader.loadIntegers(path: order, upperBound: train.count)
            let network = try Network(spec: .mlp(inputs: train.featureCount, hidden: widths, classes: train.classes), maxBatch: batchSize)
            let before = try initialWeights(layout: network.layout)
            network.loadParameters(before)
            network.setOptimizer(SGDConfig(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                                           proximalMu: proximalMu), anchor: proximalMu != 0 ? before : nil)
            let trainer = try LocalTrainer(network: network, spec: spec, valueRange: train.valueRange)
            let stats = trainer.trainEpoch(samples: train.samples, order: indices, batchSize: batchSize, epoch: 0,
                                           attackSeed: attackSeed, maxSteps: nil)
            let delta = zip(network.parametersArray(), before).map { $0 - $1 }
            try Safetensors.write(tensors: network.layout.tensors.map { ($0.name, $0.shape) }, values: delta, to: out)
            if let metrics {
                let json = try JSONSerialization.data(withJSONObject: stats.metrics, options: [.sortedKeys])
                try json.write(to: URL(fileURLWithPath: metrics))
            }
            say("trained \(stats.steps) batches (\(stats.samples) samples); wrote \(out)")
        } catch {
            throw fail(error)
        }
    }

    func trainingSpec() throws -> AdversarialTrainingSpec {
        guard let m = AdversarialTrainingSpec.Mode(rawValue: mode) else {
            throw Failure.badChoice(option: "mode", value: mode, expected: "none, pgd, mix or trades")
        }
        guard let kind = AttackSpec.Kind(rawValue: attack), !kind.isAPGD else {
            throw Failure.badChoice(option: "attack", value: attack, expected: "fgsm or pgd")
        }
        guard let n = AttackSpec.Norm(rawValue: norm) else {
            throw Failure.badChoice(option: "norm", value: norm, expected: "linf or l2")
        }
        return AdversarialTrainingSpec(mode: m, attack: AttackSpec(kind: kind, norm: n, epsilon: epsilon, stepSize: stepSize, steps: steps,
                                                                   randomStart: randomStart),
                                       mixLambda: mixLambda, tradesBeta: tradesBeta)
    }

    /// The flat parameter vector from --init, every layout tensor present with its shape.
    func initialWeights(layout: ParameterLayout) throws -> [Float] {
        let file = try Safetensors.read(path: initial)
        for t in layout.tensors {
            guard let found = file.tensor(named: t.name) else {
                throw Failure.tensor(path: initial, problem: "no tensor '\(t.name)' (the MLP has \(layout.tensors.map(\.name).joined(separator: ", ")))")
            }
            guard found.shape == t.shape else {
                throw Failure.tensor(path: initial, problem: "tensor '\(t.name)' has shape \(found.shape); the MLP's is \(t.shape)")
            }
        }
        return try file.flatValues(order: layout.tensors.map(\.name))
    }
}
