import AviaryAdversarial
import AviaryData
import AviaryMath
import AviaryNN
import AviaryPrivacy
import AviaryProtocol
import AviaryTopology

/// Local training for every client a process hosts. A hosted client is only its index until it
/// is sampled: its data comes from the shared `FederatedDataset` when it trains, and the model and
/// trainer are one per distinct adversarial setting, reused by every client (loading the global
/// parameters and resetting the optimiser makes each round independent of who trained before).
/// No state survives from one round to the next, so nothing per client is kept.
final class LocalTraining {
    let spec: RunSpec
    let dataset: FederatedDataset
    /// Set for a Byzantine process (`aviary-client --byzantine`): every client it hosts attacks.
    var attack: ByzantineAttack?
    private var trainers: [AdversarialTrainingSpec: LocalTrainer] = [:]
    private var networks: [AdversarialTrainingSpec: Network] = [:]

    init(spec: RunSpec, dataset: FederatedDataset) {
        self.spec = spec
        self.dataset = dataset
    }

    func trainer(for client: Int, valueRange: ClosedRange<Float>?) throws(ClientError) -> (Network, LocalTrainer) {
        let adversarial = spec.adversarial(forClient: client)
        if let t = trainers[adversarial], let n = networks[adversarial] { return (n, t) }
        do {
            let network = try Network(spec: spec.model, maxBatch: spec.training.batchSize)
            let trainer = try LocalTrainer(network: network, spec: adversarial, valueRange: valueRange)
            trainers[adversarial] = trainer
            networks[adversarial] = network
            return (network, trainer)
        } catch {
            throw .setup(client: client, reason: "\(error)")
        }
    }

    /// Client `index`'s local training for one round, starting from `model`: deterministic in
    /// (training seed, client, round), whatever else runs in this process.
    func train(client index: Int, model: ModelMessage, config: [String: Double]) throws(ClientError) -> UpdateMessage {
        let (network, trainer) = try trainer(for: index, valueRange: dataset.valueRange)
        let round = model.round
        guard model.parameters.count == network.parameterCount else {
            throw .wrongParameterCount(got: model.parameters.count, expected: network.parameterCount)
        }
        // The client's data only while it trains: index views into the process's shared
        // storage, or a synthetic device generated now.
        let data: ClientData
        do { data = try dataset.client(index) } catch { throw .setup(client: index, reason: "\(error)") }
        guard data.train.count > 0 else { throw .noTrainingData(client: index) }
        network.loadParameters(model.parameters)
        // The received global model on this client's own test split, before any local step:
        // what the server's fairness summary (spread of accuracy across clients) is built from.
        var before: BatchStats? = nil
        if data.test.count > 0 {
            before = network.evaluate(samples: data.test.samples, batchSize: spec.training.batchSize)
        }
        var sgd = spec.training.optimizer
        if let lr = config["learning_rate"] { sgd.learningRate = Float(lr) }
        network.setOptimizer(sgd, anchor: sgd.proximalMu > 0 ? model.parameters : nil)

        let streamIndex = UInt64(index) << 32 | UInt64(round)
        var seeds = RandomStream(seed: spec.trainingSeed, purpose: .shuffle, index: streamIndex)
        let shuffleSeed = seeds.next(), attackSeed = seeds.next()
        // Dropout masks (models with dropout only) from their own stream of (client, round), so
        // they do not depend on which clients this process trained before.
        network.seedDropout(seed: spec.trainingSeed, index: streamIndex)
        let epochs = config["local_epochs"].map { Int($0) } ?? spec.training.localEpochs
        var remaining = spec.training.maxLocalSteps
        // Label flipping poisons the data, not the update: the client trains on y → C − 1 − y.
        let trainSamples = attack?.kind == .labelFlip
            ? ByzantineAttack.flippingLabels(data.train.samples, classes: spec.model.classes) : data.train.samples
        var stats = LocalTrainingStats()
        for epoch in 0..<epochs {
            if let r = remaining, r <= 0 { break }
            let s = trainer.trainEpoch(samples: trainSamples, batchSize: spec.training.batchSize,
                                       shuffleSeed: shuffleSeed, epoch: epoch, attackSeed: attackSeed, maxSteps: remaining)
            stats.add(s)
            if let r = remaining { remaining = r - s.steps }
        }
        var delta = network.parametersArray()
        delta.withUnsafeMutableBufferPointer { d in
            model.parameters.withUnsafeBufferPointer { g in
                BLAS.saxpy(d.count, alpha: -1, x: g.baseAddress!, y: d.baseAddress!)
            }
        }
        if let bad = validateFinite(delta) {
            throw .diverged(client: index, round: round, index: bad)
        }
        let clipNorm = try Self.roundClipNorm(spec.privacy, config: config, client: index, round: round)
        let normBefore = Self.privatise(&delta, privacy: spec.privacy, client: index, round: round, clipNorm: clipNorm)
        var metrics = stats.metrics
        if spec.privacy?.clientReportsUnclipped == true, let normBefore, let clipNorm {
            metrics[PrivacySettings.unclippedMetric] = normBefore <= clipNorm ? 1 : 0
        }
        metrics["dataset_size"] = Double(data.train.count)  // FedAvg's default weight n_k
        if let before {
            metrics["global_val_loss"] = before.meanLoss
            metrics["global_val_accuracy"] = before.accuracy
        }
        if data.test.count > 0 {
            let v = network.evaluate(samples: data.test.samples, batchSize: spec.training.batchSize)
            metrics["val_loss"] = v.meanLoss
            metrics["val_accuracy"] = v.accuracy
        }
        return UpdateMessage(round: round, clientIndex: index, samples: stats.samples, metrics: metrics, delta: delta)
    }
}

extension LocalTraining {
    /// `[privacy]` on the client, before the delta is encoded (clip → noise → compression):
    /// client-side clipping (`clip_on = "client"`) clips to S; local DP clips and adds
    /// N(0, (zS)²) from the client's own stream of (privacy seed, client, round). Whatever the
    /// compressor keeps as error-feedback residual is then made of this clipped (and noised) delta.
    /// Returns the delta's norm before clipping (nil when this client does not clip).
    @discardableResult
    static func privatise(_ delta: inout [Float], privacy: PrivacySettings?, client: Int, round: Int, clipNorm: Double? = nil) -> Double? {
        guard let p = privacy, p.mode == .local || p.clipOn == .client else { return nil }
        let s = clipNorm ?? p.clipNorm
        let before = Clipping.clip(&delta, to: s)
        if p.mode == .local {
            var stream = GaussianNoise.clientStream(seed: p.seed, client: client, round: round)
            GaussianNoise.add(to: &delta, std: p.noiseMultiplier * s, stream: &stream)
        }
        return before
    }

    /// The clip norm this round: `clip_norm` of the run spec, or with adaptive client-side
    /// clipping the one the server sent in TRAIN's config (it must be there, finite and > 0).
    static func roundClipNorm(_ privacy: PrivacySettings?, config: [String: Double], client: Int, round: Int) throws(ClientError) -> Double? {
        guard let p = privacy, p.mode == .local || p.clipOn == .client else { return nil }
        guard p.clientReportsUnclipped else { return p.clipNorm }
        let key = PrivacySettings.roundClipNormKey
        guard let s = config[key], s.isFinite, s > 0 else {
            throw .privacy(client: client, round: round, reason: "adaptive clipping with clip_on = \"client\": TRAIN's config has \(config[key].map { "\(key) = \($0)" } ?? "no \(key)"), not the round's positive clip norm")
        }
        return s
    }

    /// The updates this process sends for one round's trained clients: the honest ones when it
    /// does not attack, else each turned malicious (ALIE and IPM: all of them at once, the
    /// colluders' common update from the honest deltas given, in client order).
    func malicious(_ updates: [UpdateMessage]) -> [UpdateMessage] {
        guard let attack, attack.kind != .none, !updates.isEmpty else { return updates }
        var out = updates
        if attack.isCollusive {
            let order = updates.indices.sorted { updates[$0].clientIndex < updates[$1].clientIndex }
            let common = attack.colluding(order.map { updates[$0].trainedDelta })
            for i in out.indices { out[i].trainedDelta = common }
            return out
        }
        for i in out.indices {
            var noise = ByzantineAttack.noiseStream(trainingSeed: spec.trainingSeed, client: out[i].clientIndex, round: out[i].round)
            out[i].trainedDelta = attack.apply(to: out[i].trainedDelta, noise: &noise)
        }
        return out
    }
}

public enum ClientError: Error, CustomStringConvertible {
    case badRunSpec(reason: String)
    case wrongParameterCount(got: Int, expected: Int)
    case noTrainingData(client: Int)
    case diverged(client: Int, round: Int, index: Int)
    case setup(client: Int, reason: String)
    case dataset(reason: String)
    /// Top-k error feedback could not read or keep the client's residual.
    case errorFeedback(client: Int, round: Int, ResidualStoreError)
    /// The state directory cannot hold this run's residuals.
    case stateDirectory(ResidualStoreError)
    /// `[privacy]` cannot be applied as the server asked.
    case privacy(client: Int, round: Int, reason: String)

    public var description: String {
        switch self {
        case let .badRunSpec(reason): "the server's run spec could not be read: \(reason)"
        case let .wrongParameterCount(got, expected): "MODEL carried \(got) parameters; this client's model has \(expected)"
        case let .noTrainingData(client): "client \(client) has no training samples in its partition"
        case let .diverged(client, round, index): "client \(client) diverged in round \(round): parameter \(index) is not finite (lower the learning rate)"
        case let .setup(client, reason): "client \(client) could not start: \(reason)"
        case let .dataset(reason): "the run's dataset could not be loaded: \(reason)"
        case let .errorFeedback(client, round, error): "client \(client), round \(round): \(error)"
        case let .stateDirectory(error): "--state-dir: \(error)"
        case let .privacy(client, round, reason): "client \(client), round \(round): \(reason)"
        }
    }
}

extension UpdateMessage {
    /// The dense delta of an update this process trained: f32 from `LocalTraining.train` until
    /// `DeltaCompressor.encode` puts it in the run's encoding, the last step before sending.
    /// Reading it after that is a programming error, so it traps rather than return nothing.
    var trainedDelta: [Float] {
        get {
            guard case let .f32(values) = payload else { preconditionFailure("trainedDelta read after the update was encoded") }
            return values
        }
        set { payload = .f32(newValue) }
    }
}
