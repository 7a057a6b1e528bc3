import AviaryAdversarial
import AviaryData
import AviaryMath
import AviaryNN
import AviaryProtocol
import AviaryTopology

/// One federated client's training side: its partition, its model, its trainer. Built once
/// from the WELCOME run spec; `train(_:)` turns a TASK into an UPDATE. Holds no samples: its
/// data (index lists into the process's shared storage, or a generated synthetic device) is
/// fetched from the dataset for each task.
final class LocalClient {
    let index: Int
    let spec: RunSpec
    let dataset: FederatedDataset
    let network: Network
    let trainer: LocalTrainer

    init(index: Int, spec: RunSpec, dataset: FederatedDataset) throws {
        guard index >= 0, index < dataset.spec.clients else {
            throw PartitionError.clientOutOfRange(index: index, clients: dataset.spec.clients)
        }
        self.index = index
        self.spec = spec
        self.dataset = dataset
        network = try Network(spec: spec.model, maxBatch: spec.training.batchSize)
        trainer = try LocalTrainer(network: network, spec: spec.adversarial(forClient: index), valueRange: dataset.valueRange)
    }

    /// This client's data, built on each call (index views; a synthetic device is generated).
    /// For logging sizes use `dataset.clientSizes(index)`, which builds nothing.
    var data: ClientData {
        // Cannot throw: the index was checked in init, and the only other failure (rotation of
        // non-image samples) is rejected when the dataset is built.
        try! dataset.client(index)
    }

    /// Local training for one round: deterministic in (training seed, client, round), whatever
    /// else runs in this process.
    func train(_ task: Task) throws(ClientError) -> Update {
        guard task.parameters.count == network.parameterCount else {
            throw .wrongParameterCount(got: task.parameters.count, expected: network.parameterCount)
        }
        let data: ClientData
        do { data = try dataset.client(index) } catch { throw .setup(client: index, reason: "\(error)") }
        guard data.train.count > 0 else { throw .noTrainingData(client: index) }
        network.loadParameters(task.parameters)
        // The received global model on this client's own test split, before any local step:
        // what the server's fairness summary (spread of accuracy across clients) is built from.
        var before: BatchStats? = nil
        if data.test.count > 0 {
            before = network.evaluate(samples: data.test.samples, batchSize: spec.training.batchSize)
        }
        var sgd = spec.training.optimizer
        if let lr = task.config["learning_rate"] { sgd.learningRate = Float(lr) }
        network.setOptimizer(sgd, anchor: sgd.proximalMu > 0 ? task.parameters : nil)

        let streamIndex = UInt64(index) << 32 | UInt64(task.round)
        var seeds = RandomStream(seed: spec.trainingSeed, purpose: .shuffle, index: streamIndex)
        let shuffleSeed = seeds.next(), attackSeed = seeds.next()
        let epochs = task.config["local_epochs"].map { Int($0) } ?? spec.training.localEpochs
        var remaining = spec.training.maxLocalSteps
        var stats = LocalTrainingStats()
        for epoch in 0..<epochs {
            if let r = remaining, r <= 0 { break }
            let s = trainer.trainEpoch(samples: data.train.samples, batchSize: spec.training.batchSize,
                                       shuffleSeed: shuffleSeed, epoch: epoch, attackSeed: attackSeed, maxSteps: remaining)
            stats.add(s)
            if let r = remaining { remaining = r - s.steps }
        }
        var delta = network.parametersArray()
        delta.withUnsafeMutableBufferPointer { d in
            task.parameters.withUnsafeBufferPointer { g in
                BLAS.saxpy(d.count, alpha: -1, x: g.baseAddress!, y: d.baseAddress!)
            }
        }
        if let bad = validateFinite(delta) {
            throw .diverged(client: index, round: task.round, index: bad)
        }
        var metrics = stats.metrics
        if let before {
            metrics["global_val_loss"] = before.meanLoss
            metrics["global_val_accuracy"] = before.accuracy
        }
        if data.test.count > 0 {
            let v = network.evaluate(samples: data.test.samples, batchSize: spec.training.batchSize)
            metrics["val_loss"] = v.meanLoss
            metrics["val_accuracy"] = v.accuracy
        }
        return Update(round: task.round, clientIndex: index, samples: stats.samples, metrics: metrics, delta: delta)
    }
}

public enum ClientError: Error, CustomStringConvertible {
    case badRunSpec(reason: String)
    case wrongParameterCount(got: Int, expected: Int)
    case noTrainingData(client: Int)
    case diverged(client: Int, round: Int, index: Int)
    case setup(client: Int, reason: String)

    public var description: String {
        switch self {
        case let .badRunSpec(reason): "the server's run spec could not be read: \(reason)"
        case let .wrongParameterCount(got, expected): "TASK carried \(got) parameters; this client's model has \(expected)"
        case let .noTrainingData(client): "client \(client) has no training samples in its partition"
        case let .diverged(client, round, index): "client \(client) diverged in round \(round): parameter \(index) is not finite (lower the learning rate)"
        case let .setup(client, reason): "client \(client) could not start: \(reason)"
        }
    }
}
