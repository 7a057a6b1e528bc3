import Foundation
import TOMLKit
import AviaryAdversarial
import AviaryData
import AviaryMerge
import AviaryNN

extension Topology {
    /// Reads and validates a topology file. Every error names the file and the key.
    public static func load(path: String, overrides: [String] = []) throws(TopologyError) -> Topology {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file (topologies/ has examples)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(file: path, reason: "not UTF-8 text")
        }
        // The resolved text (file plus overrides) is what the run directory keeps.
        var topology = overrides.isEmpty ? try parse(text, file: path)
            : try parse(try applying(overrides, to: text, file: path), file: path + " with --set")
        // An external model's parameters file is relative to the topology file.
        if let relative = topology.model.parameters, !relative.hasPrefix("/") {
            let directory = (path as NSString).deletingLastPathComponent
            topology.model.parameters = directory.isEmpty ? relative : directory + "/" + relative
        }
        return topology
    }

    public static func parse(_ text: String, file: String = "<topology>") throws(TopologyError) -> Topology {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw .syntax(file: file, line: e.source.begin.line, column: e.source.begin.column, message: e.description)
        } catch {
            throw .unreadable(file: file, reason: "\(error)")
        }
        let top = TableReader(root, file: file, prefix: "")

        let run = try top.table("run")
        let name = try run.requiredString("name")
        if let expected = nameProblem(name) { throw run.invalid("name", "\"\(name)\"", expected: expected) }
        let rounds = try run.int("rounds", default: 10, range: 1...1_000_000)
        let output = try run.string("output", default: "runs")
        try run.finish()

        let seedTable = try top.table("seeds")
        let base = try seedTable.int("base", default: 0, range: 0...Int.max)
        let seeds = Seeds(
            partition: UInt64(try seedTable.int("partition", default: base + 1, range: 0...Int.max)),
            sampling: UInt64(try seedTable.int("sampling", default: base + 2, range: 0...Int.max)),
            training: UInt64(try seedTable.int("training", default: base + 3, range: 0...Int.max)))
        let systemSeed = UInt64(try seedTable.int("system", default: base + 4, range: 0...Int.max))
        let attackerSeed = UInt64(try seedTable.int("attackers", default: base + 5, range: 0...Int.max))
        try seedTable.finish()

        var data = try parseData(try top.table("data"), partitionSeed: seeds.partition)
        let model = try parseModel(try top.table("model"))
        let training = try parseTraining(try top.table("train"))
        let (adversarial, overrides) = try parseAdversarial(try top.table("adversarial"), clients: data.clients)
        let merge = try parseMerge(try top.table("merge"))
        let server = try parseServer(try top.table("server"), clients: data.clients)
        let (robust, validationFraction, testSamples, evaluation) = try parseEvaluation(
            try top.table("evaluation"), evalEvery: server.evalEvery, clients: data.clients, checkpointMerge: merge.checkpointMerge)
        data.testSamples = testSamples
        let processes = try parseProcesses(try top.table("processes"), clients: data.clients, external: model.kind == .external)
        let compression = try parseCompression(try top.table("compression"))
        let security = try parseSecurity(try top.table("security"))
        let system = try parseSystem(try top.table("system"), seed: systemSeed, clientsPerRound: server.clientsPerRound)
        let attackers = try parseAttackers(try top.table("attackers"), clients: data.clients,
                                           clientsPerRound: server.clientsPerRound, seed: attackerSeed)
        let privacy = try parsePrivacy(try top.table("privacy"), clients: data.clients, clientsPerRound: server.clientsPerRound)
        let secAgg = try parseSecAgg(try top.table("secagg"))
        try top.finish()

        var topology = Topology(name: name, rounds: rounds, output: output, seeds: seeds, server: server, data: data,
                                model: model, training: training, adversarial: adversarial, clientOverrides: overrides,
                                robustEvaluation: robust, validationFraction: validationFraction, merge: merge,
                                processes: processes, security: security, source: text, warnings: [], system: system)
        topology.compression = compression.encoding
        topology.evaluation = evaluation
        topology.residualMaxAge = compression.residualMaxAge
        topology.quantisation = compression.quantisation
        topology.attackers = attackers
        topology.privacy = privacy
        topology.secAgg = secAgg
        try topology.checkCombinations(file: file, warnings: top.warnings)
        topology.warnings = top.warnings.list
        topology.config = top.config.values
        return topology
    }

    enum DatasetKind: String, CaseIterable {
        case synthetic, fashionMNIST = "fashion-mnist", mnist, idx, csv, npy, cifar10, cifar100, femnist, shakespeare
    }
    enum PartitionKind: String, CaseIterable {
        case iid, dirichlet, shards, classes = "classes-per-client", quantity = "quantity-skew", natural
    }

    static func parseData(_ t: TableReader, partitionSeed: UInt64) throws(TopologyError) -> DataSpec {
        let kind = try t.choice("dataset", default: DatasetKind.synthetic)
        let clients = try t.int("clients", default: 10, range: 1...1_000_000)
        let partitionDefault: PartitionKind = kind == .synthetic ? .natural : .iid
        let partitionKind = try t.choice("partition", default: partitionDefault)
        // Keys of the other datasets and partitioners are accepted and ignored with a warning.
        let datasetKeys: [DatasetKind: [String]] = [
            .synthetic: ["alpha", "beta"], .fashionMNIST: ["directory"],
            .mnist: ["train_images", "train_labels", "test_images", "test_labels"],
            .idx: ["train_images", "train_labels", "test_images", "test_labels"],
            .csv: ["train", "test", "label_column", "owner_column"], .npy: ["train_x", "train_y", "test_x", "test_y"],
            .cifar10: ["directory"], .cifar100: ["directory", "labels"], .femnist: ["directory"], .shakespeare: ["directory"],
        ]
        let partitionKeys: [PartitionKind: [String]] = [
            .iid: ["sizes"], .dirichlet: ["alpha", "min_size"], .shards: ["shards_per_client", "shards_total"],
            .classes: ["classes_per_client"], .quantity: ["quantity", "sigma", "exponent"], .natural: [],
        ]
        let applicable = Set(datasetKeys[kind, default: []] + partitionKeys[partitionKind, default: []])
        for (other, keys) in datasetKeys where other != kind {
            t.ignore(keys.filter { !applicable.contains($0) }, because: "it applies to dataset = \"\(other.rawValue)\", not \"\(kind.rawValue)\"")
        }
        for (other, keys) in partitionKeys where other != partitionKind {
            t.ignore(keys.filter { !applicable.contains($0) }, because: "it applies to partition = \"\(other.rawValue)\", not \"\(partitionKind.rawValue)\"")
        }
        let dataset: DatasetSpec
        switch kind {
        case .synthetic:
            dataset = .synthetic(alpha: try t.double("alpha", default: 1, range: 0...100),
                                 beta: try t.double("beta", default: 1, range: 0...100), seed: partitionSeed)
        case .fashionMNIST:
            dataset = .fashionMNIST(directory: try t.string("directory", default: "/usr/share/datasets/fashion-mnist"))
        case .mnist, .idx:
            dataset = .idx(trainImages: try t.requiredString("train_images"), trainLabels: try t.requiredString("train_labels"),
                           testImages: try t.requiredString("test_images"), testLabels: try t.requiredString("test_labels"))
        case .csv:
            dataset = .csv(train: try t.requiredString("train"), test: try t.string("test"),
                           labelColumn: try t.string("label_column", default: "label"), ownerColumn: try t.string("owner_column"))
        case .npy:
            dataset = .npy(trainX: try t.requiredString("train_x"), trainY: try t.requiredString("train_y"),
                           testX: try t.string("test_x"), testY: try t.string("test_y"))
        case .cifar10:
            dataset = .cifar(directory: try t.requiredString("directory"), variant: .cifar10)
        case .cifar100:
            let labels = try t.string("labels", default: "fine")
            guard labels == "fine" || labels == "coarse" else {
                throw t.invalid("labels", "\"\(labels)\"", expected: "\"fine\" (100 classes) or \"coarse\" (20 superclasses)")
            }
            dataset = .cifar(directory: try t.requiredString("directory"), variant: labels == "fine" ? .cifar100Fine : .cifar100Coarse)
        case .femnist:
            dataset = .leaf(directory: try t.requiredString("directory"), task: .femnist)
        case .shakespeare:
            dataset = .leaf(directory: try t.requiredString("directory"), task: .shakespeare)
        }
        if kind == .synthetic && partitionKind != .natural {
            throw t.invalid("partition", "\"\(partitionKind.rawValue)\"", expected: "\"natural\": Synthetic(α,β) generates one device per client")
        }
        let partition: PartitionSpec
        switch partitionKind {
        case .iid:
            let sizes = try t.intArray("sizes")
            if let sizes, sizes.count != clients || sizes.contains(where: { $0 < 0 }) {
                throw t.invalid("sizes", "\(sizes)", expected: "\(clients) non-negative sizes, one per client")
            }
            partition = .iid(sizes: sizes)
        case .dirichlet:
            partition = .dirichlet(alpha: try t.double("alpha", default: 0.5, range: 1e-4...1e6),
                                   minSize: try t.int("min_size", default: 10, range: 0...1_000_000))
        case .shards:
            let perClient = try t.int("shards_per_client", default: 2, range: 1...10_000)
            // Unset, the partitioner cuts perClient × clients shards: the config records that number.
            // Fewer shards than perClient × clients cannot be dealt out: refused here, so that
            // `validate` and `run` refuse it alike (the partitioner keeps its own check).
            let total = try t.int("shards_total", default: perClient * clients, range: (perClient * clients)...Int.max)
            partition = .shards(perClient: perClient, shardsTotal: t.has("shards_total") ? total : nil)
        case .classes:
            partition = .classesPerClient(try t.int("classes_per_client", default: 2, range: 1...100_000))
        case .quantity:
            let shape = try t.string("quantity", default: "lognormal")
            switch shape {
            case "lognormal": partition = .quantitySkew(.lognormal(sigma: try t.double("sigma", default: 1, range: 0...10)))
            case "power-law": partition = .quantitySkew(.powerLaw(exponent: try t.double("exponent", default: 1.5, range: 0.01...10)))
            default: throw t.invalid("quantity", "\"\(shape)\"", expected: "\"lognormal\" or \"power-law\"")
            }
        case .natural:
            partition = .natural
        }
        let skewTable = try t.table("feature_skew")
        var skew: FeatureSkew? = nil
        if skewTable.exists {
            skew = FeatureSkew(maxRotationDegrees: try skewTable.double("rotation", default: 0, range: 0...180),
                               noiseStd: try skewTable.double("noise", default: 0, range: 0...10),
                               brightnessRange: try brightness(skewTable))
            try skewTable.finish()
        }
        let trainLimit = try t.int("train_limit")
        if let trainLimit, trainLimit < 1 {
            throw t.invalid("train_limit", "\(trainLimit)", expected: "a positive number of training samples (leave it out to use all)")
        }
        let spec = DataSpec(dataset: dataset, partition: partition, featureSkew: skew, clients: clients,
                            partitionSeed: partitionSeed,
                            localTestFraction: try t.double("local_test_fraction", default: 0.1, range: 0...0.9),
                            trainLimit: trainLimit)
        try t.finish()
        return spec
    }

    static func parseModel(_ t: TableReader) throws(TopologyError) -> ModelChoice {
        let kind = try t.choice("kind", default: ModelChoice.Kind.mlp)
        let hidden = try t.intArray("hidden", default: [200, 200])
        guard hidden.allSatisfy({ $0 > 0 && $0 <= 65_536 }) else {
            throw t.invalid("hidden", "\(hidden)", expected: "positive layer sizes")
        }
        var choice = ModelChoice(kind: kind, hidden: hidden)
        if kind == .external {
            choice.parameters = try t.requiredString("parameters")
        } else {
            t.ignore(["parameters"], because: "it applies to kind = \"external\"")
        }
        // Read only for the ResNet, so other models' recorded configuration stays as it was.
        let resnetKeys = ["depth", "width", "groups", "dropout"]
        if kind == .resnet {
            let depth = try t.int("depth", default: 20, range: 8...1_000)
            guard (depth - 2) % 6 == 0 else {
                throw t.invalid("depth", "\(depth)", expected: "6n + 2 (8 for ResNet-8, 20 for ResNet-20, 32, 44, …)")
            }
            choice.resnet = ModelChoice.ResNetOptions(depth: depth, width: try t.int("width", default: 16, range: 1...1_024),
                                                      groups: try t.int("groups", default: 2, range: 1...1_024),
                                                      dropout: try t.double("dropout", default: 0, range: 0...0.99))
        } else {
            t.ignore(resnetKeys, because: "it applies to kind = \"resnet\"")
        }
        try t.finish()
        return choice
    }

    /// `brightness = 0.2` means a per-client shift in ±0.2; an array [lo, hi] gives the range.
    static func brightness(_ t: TableReader) throws(TopologyError) -> ClosedRange<Double>? {
        let b = try t.double("brightness", default: 0, range: 0...1)
        return b > 0 ? -b...b : nil
    }

    static func parseTraining(_ t: TableReader) throws(TopologyError) -> TrainingSpec {
        let sgd = SGDConfig(learningRate: Float(try t.double("learning_rate", default: 0.05, range: 1e-8...100)),
                            momentum: Float(try t.double("momentum", default: 0, range: 0...0.999)),
                            weightDecay: Float(try t.double("weight_decay", default: 0, range: 0...1)),
                            proximalMu: Float(try t.double("proximal_mu", default: 0, range: 0...1000)))
        let spec = TrainingSpec(localEpochs: try t.int("local_epochs", default: 1, range: 1...10_000),
                                batchSize: try t.int("batch_size", default: 32, range: 1...65_536),
                                optimizer: sgd, maxLocalSteps: try t.int("max_local_steps"))
        if let m = spec.maxLocalSteps, m < 1 { throw t.invalid("max_local_steps", "\(m)", expected: "a positive number of steps") }
        try t.finish()
        return spec
    }

    static func parseAdversarialBody(_ t: TableReader, base: AdversarialTrainingSpec?) throws(TopologyError) -> AdversarialTrainingSpec {
        var spec = base ?? AdversarialTrainingSpec()
        spec.mode = try t.choice("mode", default: spec.mode)
        // An override's absent attack keys take the base's values (every key is read, so each
        // one is known to the unknown-key check).
        do {
            let b = spec.attack
            spec.attack = AttackSpec(kind: try t.choice("attack", default: b.kind), norm: try t.choice("norm", default: b.norm),
                                     epsilon: Float(try t.double("epsilon", default: Double(b.epsilon), range: 0...100)),
                                     stepSize: Float(try t.double("step_size", default: Double(b.stepSize), range: 0...100)),
                                     steps: try t.int("steps", default: b.steps, range: 1...10_000),
                                     randomStart: try t.bool("random_start", default: b.randomStart))
        }
        if spec.attack.kind.isAPGD {
            throw t.invalid("attack", "\"\(spec.attack.kind.rawValue)\"", expected: "\"fgsm\" or \"pgd\": APGD attacks are for [evaluation] only")
        }
        spec.mixLambda = Float(try t.double("mix_lambda", default: Double(spec.mixLambda), range: 0...1))
        spec.tradesBeta = Float(try t.double("trades_beta", default: Double(spec.tradesBeta), range: 0...100))
        if spec.mode != .none {
            try checkAttack(spec.attack, t, evaluation: false, allowWeak: true)
        }
        return spec
    }

    static func parseAdversarial(_ t: TableReader, clients: Int) throws(TopologyError) -> (AdversarialTrainingSpec, [ClientOverride]) {
        let base = try parseAdversarialBody(t, base: nil)
        var overrides: [ClientOverride] = []
        for o in try t.tables("clients") {
            guard let list = try o.intArray("clients"), !list.isEmpty else { throw .missingKey(file: o.file, key: o.key("clients")) }
            if let bad = list.first(where: { !(0..<clients).contains($0) }) {
                throw o.invalid("clients", "\(bad)", expected: "client indices in 0..<\(clients)")
            }
            overrides.append(ClientOverride(clients: list, adversarial: try parseAdversarialBody(o, base: base)))
            try o.finish()
        }
        try t.finish()
        return (base, overrides)
    }

    static func parseServer(_ t: TableReader, clients: Int) throws(TopologyError) -> ServerSettings {
        let perRound = try t.int("clients_per_round", default: clients, range: 1...clients)
        var s = ServerSettings(
            bind: try t.string("bind", default: "tcp://127.0.0.1:0"),
            clientsPerRound: perRound,
            minClients: try t.int("min_clients", default: clients, range: perRound...clients),
            roundTimeout: try t.double("round_timeout", default: 300, range: 0.1...86_400),
            registrationTimeout: try t.double("registration_timeout", default: 120, range: 0.1...86_400),
            heartbeatInterval: try t.double("heartbeat_interval", default: 2, range: 0.05...3600),
            evalEvery: try t.int("eval_every", default: 1, range: 1...1_000_000),
            checkpointEvery: try t.int("checkpoint_every", default: 1, range: 0...1_000_000),
            maxUnmergedShare: try t.double("max_unmerged_share", default: 0.5, range: 0...1),
            maxLostShare: try t.double("max_lost_share", default: 0.1, range: 0...1),
            // Read only when written, so runs without it record the configuration they always did.
            sampling: t.has("sampling") ? try t.choice("sampling", default: Sampling.fixed) : .fixed)
        if let expected = bindProblem(s.bind) { throw t.invalid("bind", "\"\(s.bind)\"", expected: expected) }
        // Read only when written, like `sampling`.
        if t.has("durable_interval") { s.durableInterval = try t.double("durable_interval", default: 10, range: 0...86_400) }
        (s.mode, s.buffered) = try parseMode(t, clients: clients, perRound: perRound)
        if s.mode == .buffered && !t.has("checkpoint_every") {
            // A buffered round is one server update of `buffer_size` arrivals, many per sync
            // round's worth of clients: by default keep a checkpoint of every evaluated model
            // (and the last), not one per update (docs/TOPOLOGY.md, `checkpoint_every`).
            s.checkpointEvery = try t.int("checkpoint_every", default: s.evalEvery, range: 0...1_000_000)
        }
        try t.finish()
        return s
    }

    /// Longest run name, in UTF-8 bytes: it is one directory name (255 bytes on Linux), and
    /// `aviary run` may append `-2` … `-10000` to keep an existing run.
    public static let maxNameBytes = 240

    /// What `[run].name` (or `--name`) should be instead of `name`, or nil when it is fine: one
    /// check for the file and the flags, so a bad name is blamed on the name.
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name != ".", name != "..", name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.=,".contains($0) }) else {
            return "letters, digits, '-', '_', '.', '=' or ',', not \".\" or \"..\" (it names the run directory under output)"
        }
        guard name.utf8.count <= maxNameBytes else {
            return "at most \(maxNameBytes) bytes, not \(name.utf8.count) (it names one directory under output)"
        }
        return nil
    }

    /// What `[server].bind` (or `aviary-server --bind`) should be instead of `bind`, or nil when
    /// it is fine: one check for both, so the flag cannot bind what the file refuses.
    public static func bindProblem(_ bind: String) -> String? {
        guard bind.hasPrefix("tcp://") || bind.hasPrefix("ipc://") else {
            return "a ZeroMQ endpoint such as \"tcp://127.0.0.1:5555\" or \"tcp://*:0\""
        }
        // libzmq would take a port past 65535 modulo 2^16 (and -1 as 65535) and bind another
        // port without a word.
        if bind.hasPrefix("tcp://"), let colon = bind.lastIndex(of: ":"), let port = Int(bind[bind.index(after: colon)...]),
           !(0...65_535).contains(port) {
            return "a TCP port in 0...65535 (0 picks a free one)"
        }
        return nil
    }

    static func parseProcesses(_ t: TableReader, clients: Int, external: Bool) throws(TopologyError) -> ProcessSettings {
        // `command`: client processes that are not aviary-client (a Python SDK process), `count`
        // of them; with it, `client_processes` (aviary-client processes) defaults to 0. So it does
        // for an external model, which aviary-client cannot train: a hand-started aviary-server
        // serving SDK clients started by hand needs no [processes] table at all.
        let command = try t.stringArray("command")
        if let command, command.isEmpty || command[0].isEmpty {
            throw t.invalid("command", "\(command)", expected: "a program and its arguments, e.g. [\"python3\", \"-m\", \"aviary_client\", \"--app\", \"mymodule:make_client\"]")
        }
        let count = command == nil ? 0 : try t.int("count", default: 1, range: 1...clients)
        if command == nil { t.ignore(["count"], because: "it counts the processes of [processes] command, which is not set") }
        let sdkOnly = command != nil || external
        var p = ProcessSettings(clientProcesses: try t.int("client_processes", default: sdkOnly ? 0 : min(clients, 10),
                                                           range: (sdkOnly ? 0 : 1)...clients),
                                blasThreads: try t.int("blas_threads", default: 1, range: 1...256),
                                blasCoreType: try t.string("blas_coretype"))
        p.command = command
        p.commandProcesses = count
        if p.clientProcesses + count > clients {
            throw t.invalid("count", "\(count)", expected: "at most \(clients - p.clientProcesses): client_processes + count processes share \(clients) clients, and each needs one")
        }
        if let core = p.blasCoreType, core.isEmpty || !core.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw t.invalid("blas_coretype", "\"\(core)\"", expected: "an OpenBLAS kernel name such as \"Haswell\", \"Zen\" or \"SkylakeX\"")
        }
        try t.finish()
        return p
    }
}
