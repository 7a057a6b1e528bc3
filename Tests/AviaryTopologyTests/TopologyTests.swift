import Foundation
import Testing
import AviaryTopology
import AviaryMerge
import AviaryAdversarial

@Suite struct TopologyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test(arguments: ["quickstart", "fmnist-dirichlet", "fmnist-dirichlet-pgd", "fmnist-dirichlet-pgd-mwa", "benchmark-fmnist-iid", "benchmark-fmnist-iid-pgd",
                            "cifar10-resnet-dirichlet-pgd", "femnist-natural"])
    func shippedTopologiesParse(name: String) throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/\(name).toml")
        #expect(t.name == name)
        #expect(t.rounds > 0)
    }

    /// Every strategy the file's comment names runs on it without a warning about the file's own keys.
    @Test(arguments: ["fedavg", "median", "trimmed-mean", "krum", "multi-krum", "mwa"])
    func byzantineTopologyTakesAnyStrategyWithoutWarnings(strategy: String) throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/byzantine.toml", overrides: ["merge.strategy=\(strategy)"])
        #expect(t.warnings.isEmpty, "\(t.warnings)")
    }

    @Test func quickstartIsWhatTheReadmePromises() throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/quickstart.toml")
        #expect(t.data.clients == 10)
        #expect(t.rounds == 20)
        #expect(t.merge.strategy == .fedavg)
        #expect(t.seeds.partition != t.seeds.sampling && t.seeds.sampling != t.seeds.training)
    }

    @Test func mwaTopologyUsesAdversarialLoss() throws {
        let t = try Topology.load(path: "\(Self.root)/topologies/fmnist-dirichlet-pgd-mwa.toml")
        guard case let .mwa(config) = t.merge.strategy else { Issue.record("expected mwa"); return }
        #expect(config.metric == .advLoss)
        #expect(config.penalty == 1)
        #expect(t.adversarial.mode == .pgd)
        #expect(t.robustEvaluation?.attack.steps == 20)
    }

    @Test func defaultsAreFilledIn() throws {
        let t = try Topology.parse("[run]\nname = \"d\"\n")
        #expect(t.data.clients == 10)
        #expect(t.server.clientsPerRound == 10)
        #expect(t.processes.blasThreads == 1)
        #expect([t.seeds.partition, t.seeds.sampling, t.seeds.training] == [1, 2, 3])
    }

    @Test func testSamplesBoundsTheServerTestSet() throws {
        #expect(try Topology.parse("[run]\nname = \"d\"\n").data.testSamples == nil)
        let t = try Topology.parse("[run]\nname = \"d\"\n[evaluation]\ntest_samples = 2000\n")
        #expect(t.data.testSamples == 2000)
        #expect(throws: TopologyError.self) { try Topology.parse("[run]\nname = \"d\"\n[evaluation]\ntest_samples = 0\n") }
    }

    @Test func perClientAdversarialOverrides() throws {
        let t = try Topology.parse("""
        [run]
        name = "o"
        [data]
        clients = 4
        [adversarial]
        mode = "pgd"
        epsilon = 0.1
        [[adversarial.clients]]
        clients = [2, 3]
        mode = "none"
        [[adversarial.clients]]
        clients = [1]
        epsilon = 0.3
        """)
        #expect(t.adversarial(forClient: 0).mode == .pgd)
        #expect(t.adversarial(forClient: 1).attack.epsilon == 0.3)
        #expect(t.adversarial(forClient: 1).mode == .pgd)
        #expect(t.adversarial(forClient: 3).mode == AdversarialModeNone)
    }

    func error(_ text: String) -> String {
        do { _ = try Topology.parse(text, file: "t.toml"); return "no error" } catch { return "\(error)" }
    }

    @Test func errorsNameTheKey() {
        #expect(error("[run]\nname = \"x\"\n[merge]\nstrategy = \"mwa\"\npenalty = 11\n").contains("merge.penalty"))
        #expect(error("[run]\nname = \"x\"\n[merge]\nstrategy = \"avg\"\n").contains("\"fedavg\""))
        #expect(error("[run]\nname = \"x\"\n[train]\nbatch_size = \"big\"\n").contains("train.batch_size"))
        #expect(error("[run]\nname = \"x\"\nrounds = 0\n").contains("run.rounds"))
        #expect(error("[run]\nname = \"x\"\n[modle]\nkind = \"mlp\"\n").contains("unknown key 'modle'"))
        #expect(error("[run]\nname = \"x\"\n[data]\ndataset = \"synthetic\"\npartition = \"dirichlet\"\n").contains("data.partition"))
        #expect(error("[run]\nname = \"a/b\"\n").contains("run.name"))
        #expect(error("[run]\nname = \"x\"\n[server]\nbind = \"localhost:5\"\n").contains("server.bind"))
        #expect(error("[run\nname = 1").contains("t.toml:1"))
        #expect(error("").contains("run.name"))
    }

    @Test func errorsSuggestTheNearestKeyAndWhereFedProxLives() {
        #expect(error("[run]\nname = \"x\"\n[merge]\nstrategy = \"mwa\"\npenalti = 1\n").contains("unknown key 'merge.penalti'; did you mean 'merge.penalty'?"))
        #expect(error("[run]\nname = \"x\"\n[modle]\nkind = \"mlp\"\n").contains("did you mean 'model'?"))
        #expect(!error("[run]\nname = \"x\"\n[merge]\nzzzzzzzz = 1\n").contains("did you mean"), "no suggestion when nothing is close")
        let fedprox = error("[run]\nname = \"x\"\n[merge]\nstrategy = \"fedprox\"\n")
        #expect(fedprox.contains("merge.strategy") && fedprox.contains("train.proximal_mu"), "\(fedprox)")
        #expect(error("[run]\nname = \"x\"\n[merge]\nstrategy = \"fedadam\"\n").contains("merge.server_optimizer = \"fedadam\""))
    }
}

private let AdversarialModeNone = AdversarialTrainingSpec.Mode.none
