import AviaryAdversarial
import AviaryData
import AviaryLog
import AviaryMerge
import AviaryNN
import AviaryPrivacy
import AviaryProtocol

/// A validated run description, parsed from `topologies/*.toml`. docs/TOPOLOGY.md lists every key.
public struct Topology: Sendable {
    public var name: String
    public var rounds: Int
    /// Parent of the run directory: the run writes to `<output>/<name>/`.
    public var output: String
    public var seeds: Seeds
    public var server: ServerSettings
    /// The federation's data; `data.testSamples` comes from `[evaluation] test_samples`.
    public var data: DataSpec
    public var model: ModelChoice
    public var training: TrainingSpec
    public var adversarial: AdversarialTrainingSpec
    /// Per-client adversarial settings that replace `adversarial` for the listed clients.
    public var clientOverrides: [ClientOverride]
    public var robustEvaluation: RobustEvaluationSpec?
    /// `[evaluation] mode` and `clients`: who evaluates the global model (the server by default).
    public var evaluation = EvaluationSettings(mode: .server)
    /// Share of the server's held-out data kept apart as a validation split (seeded): the
    /// reported metrics use the rest, and checkpoint merging by `val_loss` uses this part.
    public var validationFraction: Double
    public var merge: MergeSettings
    public var processes: ProcessSettings
    /// How clients encode their UPDATE deltas (`[compression]`; f32 unless set).
    public var compression: DeltaEncoding = .f32
    /// `[compression] topk_residual_max_age`: top-k error-feedback residuals older than this many
    /// rounds are not used (the client starts again from zero) and are deleted; nil keeps them.
    public var residualMaxAge: Int? = nil
    /// `[compression] rounding` and `error_feedback` (f16, int8); nil: round to nearest, no feedback.
    public var quantisation: QuantisationOptions? = nil
    /// `[security]`: CURVE on or off, and where the server's keys are.
    public var security = SecuritySettings()
    /// `[attackers]`: Byzantine clients, for the launcher and the log only (never sent to clients).
    public var attackers: AttackerSettings = .none(seed: 5)
    /// `[privacy]`: differential privacy (docs/PRIVACY.md); mode none unless set.
    public var privacy = PrivacySettings()
    /// `[secagg]`: secure aggregation (docs/SECURITY.md); off unless set.
    public var secAgg = SecAggSettings()
    /// The TOML text this was parsed from, copied into the run directory.
    public var source: String
    /// Settings that run but deserve attention (ignored keys, weak training attacks, large
    /// adaptive server_lr), each naming the file and key; `aviary validate` and `run` print them.
    public var warnings: [String]
    /// `[system]`: simulated device speeds, bandwidth, availability and round deadlines; nil: none.
    public var system: SystemSettings? = nil
    /// Every key that takes effect, by dotted path (`merge.penalty`), with its resolved value,
    /// defaults included; keys that do not apply under the other settings are left out.
    /// `resolvedConfig` is what `run_start.config` records.
    public var config: [String: ConfigValue] = [:]

    /// `config` with the run's actual name, output and bind (`--name`, `--bind` and resume change them after parsing).
    public var resolvedConfig: [String: ConfigValue] {
        var c = config
        c["run.name"] = .string(name)
        c["run.output"] = .string(output)
        c["server.bind"] = .string(server.bind)
        return c
    }

    /// Three independent seeds, recorded in the log: changing one never changes the others' streams.
    public struct Seeds: Codable, Sendable, Hashable {
        public var partition: UInt64
        public var sampling: UInt64
        public var training: UInt64
    }

    public struct ServerSettings: Sendable, Hashable {
        /// ZeroMQ endpoint the server binds; port 0 picks a free port (written to the run directory).
        public var bind: String
        public var clientsPerRound: Int
        public var minClients: Int
        public var roundTimeout: Double
        public var registrationTimeout: Double
        public var heartbeatInterval: Double
        public var evalEvery: Int
        public var checkpointEvery: Int
        /// A completed run in which more than this share of rounds merged nothing ends
        /// "degraded" and exits non-zero (a run in which no round merged ends "failed").
        public var maxUnmergedShare: Double = 0.5
        /// A completed run ends "degraded" (non-zero exit) when more than this share of the most
        /// clients ever registered at once were lost (their process died or left) and did not come back.
        public var maxLostShare: Double = 0.1
        /// `sampling`: "fixed" draws clients_per_round clients without replacement; "poisson"
        /// includes each client independently with q = clients_per_round / clients (what the
        /// DP accountant's amplification assumes).
        public var sampling: Sampling = .fixed
        /// `mode`: synchronous rounds (default) or buffered asynchronous aggregation.
        public var mode: ServerMode = .sync
        /// Buffered mode's keys; nil in sync mode.
        public var buffered: BufferedSettings? = nil
        /// `durable_interval`: seconds between durability points (fsync of the round's files;
        /// for runs whose rounds replay bit for bit, the only rounds whose run state is saved).
        /// 0: every round is one. docs/LOG.md, "Durability".
        public var durableInterval: Double = 10
    }

    public enum Sampling: String, Sendable, Hashable, CaseIterable { case fixed, poisson }

    public struct MergeSettings: Sendable, Hashable {
        public var strategy: AggregationStrategy
        public var serverOptimizer: ServerOptimizerSpec
        public var clipNorm: Double?
        /// Updates beyond this ℓ2 norm are rejected (`max_update_norm`, `max_update_norm_ratio`).
        public var normBound: UpdateNormBound? = UpdateNormBound(medianMultiple: Topology.defaultUpdateNormRatio)
        /// Merging the last `window` global checkpoints with MWA (the MWA paper's own setting).
        public var checkpointMerge: CheckpointMergeSettings?
    }

    public struct CheckpointMergeSettings: Sendable, Hashable, Codable {
        public var window: Int
        /// "val_loss" (loss-type) or "round" (progress-type).
        public var metric: String
        public var penalty: Double
        /// Merge every `every` rounds; 0 = only at the end of the run.
        public var every: Int
    }

    public struct ProcessSettings: Sendable, Hashable {
        /// OS processes that host the clients (clients are spread over them round-robin).
        public var clientProcesses: Int
        /// OpenBLAS threads per process.
        public var blasThreads: Int
        /// OpenBLAS kernel set (`OPENBLAS_CORETYPE`, e.g. "Haswell") for every process `aviary run`
        /// starts, so machines whose CPUs would pick different kernels compute the same bits; nil:
        /// OpenBLAS picks for the CPU.
        public var blasCoreType: String? = nil
        /// `[processes] command`: the program (and its arguments) of client processes that are not
        /// aviary-client, e.g. a Python SDK process; nil: every client process is aviary-client.
        public var command: [String]? = nil
        /// `[processes] count`: how many processes run `command`, after the `clientProcesses`
        /// aviary-client ones; all of them share the clients (`--shard p/N`).
        public var commandProcesses: Int = 0

        /// Client processes of every kind: aviary-client ones, then `command` ones.
        public var totalClientProcesses: Int { clientProcesses + commandProcesses }
    }

    public struct ClientOverride: Codable, Sendable, Hashable {
        public var clients: [Int]
        public var adversarial: AdversarialTrainingSpec

        static func resolve(_ overrides: [ClientOverride], base: AdversarialTrainingSpec, client: Int) -> AdversarialTrainingSpec {
            overrides.last(where: { $0.clients.contains(client) })?.adversarial ?? base
        }
    }

    /// The adversarial settings for one client after overrides (the last override naming it wins).
    public func adversarial(forClient index: Int) -> AdversarialTrainingSpec {
        ClientOverride.resolve(clientOverrides, base: adversarial, client: index)
    }

    /// What every client needs to build its data and model and train: sent in WELCOME.
    /// The model's input and class counts come from the loaded data.
    public func runSpec(model: ModelSpec) -> RunSpec {
        RunSpec(name: name, data: data, model: model, training: training, adversarial: adversarial,
                clientOverrides: clientOverrides, trainingSeed: seeds.training, blasThreads: processes.blasThreads,
                compression: compression, residualMaxAge: residualMaxAge, quantisation: quantisation,
                privacy: privacy.isOn ? privacy : nil, secagg: secAgg.enabled ? secAgg : nil, tensors: model.tensorTable,
                robustEvaluation: evaluation.mode == .server ? nil : robustEvaluation)
    }
}

/// Local training hyperparameters.
public struct TrainingSpec: Codable, Sendable, Hashable {
    public var localEpochs: Int
    public var batchSize: Int
    public var optimizer: SGDConfig
    /// Cap on local steps per round (nil = full epochs), as FedProx's "E epochs or fewer".
    public var maxLocalSteps: Int?
}

/// The run description clients receive (JSON) in WELCOME.
public struct RunSpec: Codable, Sendable, Hashable {
    public var name: String
    /// The federation's data; `data.testSamples` comes from `[evaluation] test_samples`.
    public var data: DataSpec
    public var model: ModelSpec
    public var training: TrainingSpec
    public var adversarial: AdversarialTrainingSpec
    public var clientOverrides: [Topology.ClientOverride]
    public var trainingSeed: UInt64
    public var blasThreads: Int
    /// The run's delta encoding: clients encode every UPDATE with it, the server accepts no other.
    public var compression: DeltaEncoding = .f32
    /// `[compression] topk_residual_max_age` (`ResidualHistory.maxAge`).
    public var residualMaxAge: Int? = nil
    /// How clients quantise f16/int8 deltas; nil (and absent in older specs): to nearest, no feedback.
    public var quantisation: QuantisationOptions? = nil
    /// `[privacy]` when on: clients clip (clip_on = "client", mode = "local") and add noise (local).
    public var privacy: PrivacySettings? = nil
    /// `[secagg]` when enabled (key `secagg`): a client that does not implement secure
    /// aggregation must refuse the run (the Python SDK does).
    public var secagg: SecAggSettings? = nil
    /// Under `[secagg]`: how each client weighs its own masked update. Set by the server, which
    /// knows the partition sizes the FedAvg reference comes from.
    public var secaggWeight: SecAggWeightRule? = nil
    /// The layout of MODEL's and UPDATE's f32 vector: every float tensor of the model, in vector
    /// order (protocol version 5; docs/PROTOCOL.md, "The tensor table").
    public var tensors: [TensorDescriptor] = []
    /// Names this run (not its topology) and stays the same across resumes: clients keep their
    /// error-feedback residuals under it. Set by the server; nil in specs made elsewhere.
    public var runID: String? = nil
    /// The rounds the server resumed after, oldest first (`ResidualHistory.resumes`): residuals
    /// written before a resume for rounds after its point belong to rounds run again.
    public var resumes: [Int] = []
    /// `[evaluation]`'s robust attack when the clients or the evaluator evaluate (mode other than
    /// "server"): an EVALUATE whose config has `robust` = 1 asks for `robust_loss` and
    /// `robust_accuracy` under it too. nil (and absent in older specs) otherwise.
    public var robustEvaluation: RobustEvaluationSpec? = nil

    public func adversarial(forClient index: Int) -> AdversarialTrainingSpec {
        Topology.ClientOverride.resolve(clientOverrides, base: adversarial, client: index)
    }
}

/// The model named in a topology, before the data fixes its input shape and class count.
public struct ModelChoice: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case logreg, mlp, cnn, resnet, lstm, external }
    public var kind: Kind
    /// Hidden layer sizes for `mlp` (default McMahan's 2NN: 200, 200).
    public var hidden: [Int]
    /// `[model] depth`, `width`, `groups`, `dropout` of `resnet`; nil for the other kinds.
    public var resnet: ResNetOptions? = nil
    /// `[model] parameters` of `external`: the safetensors file of the model's tensors, relative
    /// to the topology file's directory as written, made absolute by `Topology.load`; nil for the
    /// built-in kinds.
    public var parameters: String? = nil

    public struct ResNetOptions: Codable, Sendable, Hashable {
        /// 6n + 2: n basic blocks per stage.
        public var depth: Int
        public var width: Int
        public var groups: Int
        public var dropout: Double

        public init(depth: Int = 20, width: Int = 16, groups: Int = 2, dropout: Double = 0) {
            self.depth = depth; self.width = width; self.groups = groups; self.dropout = dropout
        }
    }

    public init(kind: Kind, hidden: [Int], resnet: ResNetOptions? = nil) {
        self.kind = kind
        self.hidden = hidden
        self.resnet = resnet ?? (kind == .resnet ? ResNetOptions() : nil)
    }

    /// The concrete model for samples of `sampleShape` ([features] or [channels, height, width]).
    public func resolve(sampleShape: [Int], classes: Int) throws(TopologyError) -> ModelSpec {
        let inputs = sampleShape.reduce(1, *)
        switch kind {
        case .logreg: return .logreg(inputs: inputs, classes: classes)
        case .mlp: return .mlp(inputs: inputs, hidden: hidden, classes: classes)
        case .cnn:
            guard sampleShape.count == 3 else {
                throw .invalidValue(file: "topology", key: "model.kind", value: "\"cnn\"",
                                    expected: "image data (these samples are flat vectors of \(inputs)); use \"mlp\" or \"logreg\"")
            }
            return .cnn(channels: sampleShape[0], height: sampleShape[1], width: sampleShape[2], classes: classes)
        case .resnet:
            guard sampleShape.count == 3 else {
                throw .invalidValue(file: "topology", key: "model.kind", value: "\"resnet\"",
                                    expected: "image data (these samples are flat vectors of \(inputs)); use \"mlp\" or \"logreg\"")
            }
            let o = resnet ?? ResNetOptions()
            let spec = ModelSpec.resnet(ResNetSpec(channels: sampleShape[0], height: sampleShape[1], width: sampleShape[2],
                                                   classes: classes, blocksPerStage: (o.depth - 2) / 6, baseWidth: o.width,
                                                   groups: o.groups, dropout: o.dropout))
            do { try spec.validate() } catch {
                throw .invalidValue(file: "topology", key: "model", value: "resnet", expected: "\(error)")
            }
            return spec
        case .external:
            guard let parameters else { throw .missingKey(file: "topology", key: "model.parameters") }
            return .external(try ExternalModelFile.load(path: parameters, topology: "topology").model)
        case .lstm:
            // LEAF's Shakespeare model: the classes are the token vocabulary.
            guard sampleShape.count == 1 else {
                throw .invalidValue(file: "topology", key: "model.kind", value: "\"lstm\"",
                                    expected: "token sequences (dataset = \"shakespeare\"); these samples have shape \(sampleShape)")
            }
            return .charLSTM(CharLSTMSpec(vocabulary: classes, context: sampleShape[0], classes: classes))
        }
    }
}

/// `[evaluation] mode`: who evaluates the global model on evaluation rounds.
public enum EvaluationMode: String, Codable, Sendable, CaseIterable {
    /// The server, on its held-out split (built-in models; an external model is not evaluated).
    case server
    /// The clients, each on its own held-out split, answering protocol 5's EVALUATE; the log's
    /// `eval` is the sample-weighted aggregate.
    case federated
    /// One evaluator process (HELLO role 1), on the centralised test set.
    case evaluator
}

/// `[evaluation] mode` and, for federated evaluation, how many registered clients evaluate.
public struct EvaluationSettings: Sendable, Hashable {
    public var mode: EvaluationMode
    /// A seeded sample of this many registered clients evaluates; nil: all of them.
    public var clients: Int? = nil
    public init(mode: EvaluationMode, clients: Int? = nil) { self.mode = mode; self.clients = clients }
}
