import Foundation
import Testing
import AviaryTopology
import AviaryMerge

/// One refused (or warned) topology per rule: each error must name the key to change.
@Suite struct RefusedTopologyTests {
    func error(_ body: String, name: String = "x") -> String {
        do { _ = try Topology.parse("[run]\nname = \"\(name)\"\n" + body, file: "t.toml"); return "no error" } catch { return "\(error)" }
    }

    func warnings(_ body: String) throws -> [String] {
        try Topology.parse("[run]\nname = \"x\"\n" + body, file: "t.toml").warnings
    }

    @Test func krumNeedsTwoFPlusThreeClientsPerRound() {
        let e = error("[data]\nclients = 10\n[server]\nclients_per_round = 4\n[merge]\nstrategy = \"krum\"\nbyzantine = 1\n")
        #expect(e.contains("merge.byzantine") && e.contains("≥ 2·byzantine + 3 = 5"), "\(e)")
        #expect(error("[data]\nclients = 10\n[server]\nclients_per_round = 5\n[merge]\nstrategy = \"krum\"\nbyzantine = 1\n") == "no error")
    }

    @Test func multiKrumNeedsSelectedPlusF() {
        // 2f + 3 = 5 holds with 6 per round, but m + f = 7 does not.
        let e = error("[data]\nclients = 10\n[server]\nclients_per_round = 6\n[merge]\nstrategy = \"multi-krum\"\nbyzantine = 1\nselected = 6\n")
        #expect(e.contains("merge.byzantine") && e.contains("= 7"), "\(e)")
    }

    @Test func mwaOnAdvLossWithoutAdversarialClients() {
        let e = error("[merge]\nstrategy = \"mwa\"\nmetric = \"adv_loss\"\n")
        #expect(e.contains("merge.metric") && e.contains("no client trains adversarially"), "\(e)")
    }

    @Test func mwaOnValLossWithoutLocalTestSplit() {
        let e = error("[data]\nlocal_test_fraction = 0.0\n[merge]\nstrategy = \"mwa\"\nmetric = \"val_loss\"\n")
        #expect(e.contains("merge.metric") && e.contains("local_test_fraction"), "\(e)")
    }

    static let mixedClients = """
    [data]
    clients = 4
    [adversarial]
    mode = "pgd"
    [[adversarial.clients]]
    clients = [3]
    mode = "none"
    [merge]
    strategy = "mwa"
    metric = "adv_loss"

    """

    @Test func mwaOnAdvLossWithCleanClientsNeedsAFallbackPolicy() throws {
        let e = error(Self.mixedClients)
        #expect(e.contains("merge.missing_metric") && e.contains("clients 3"), "\(e)")
        let t = try Topology.parse("[run]\nname = \"x\"\n" + Self.mixedClients + "missing_metric = \"uniform\"\n")
        guard case .mwa(let config) = t.merge.strategy else { Issue.record("expected mwa"); return }
        #expect(config.missingMetric == .uniform)
    }

    @Test func cnnAndRotationNeedImages() {
        #expect(error("[data]\ndataset = \"synthetic\"\n[model]\nkind = \"cnn\"\n").contains("model.kind"))
        #expect(error("[data]\ndataset = \"synthetic\"\n[data.feature_skew]\nrotation = 10\n").contains("data.feature_skew.rotation"))
    }

    @Test func serverLRTheOptimiserRefusesIsRefusedByTheParser() {
        let e = error("[merge]\nserver_lr = 0\n")
        #expect(e.contains("merge.server_lr"), "\(e)")
    }

    @Test func adaptiveOptimisersHaveTheirOwnDefaultAndWarnWhenLarge() throws {
        let t = try Topology.parse("[run]\nname = \"x\"\n[merge]\nserver_optimizer = \"fedadam\"\n")
        #expect(t.merge.serverOptimizer == .fedadam(lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        #expect(t.warnings.isEmpty)
        let w = try warnings("[merge]\nserver_optimizer = \"fedyogi\"\nserver_lr = 1.0\n")
        #expect(w.contains { $0.contains("merge.server_lr") && $0.contains("large") }, "\(w)")
    }

    @Test func fgsmRefusesKeysItWouldIgnore() {
        let e = error("[adversarial]\nmode = \"pgd\"\nattack = \"fgsm\"\nrandom_start = true\n")
        #expect(e.contains("adversarial.random_start") && e.contains("FGSM"), "\(e)")
        #expect(error("[adversarial]\nmode = \"pgd\"\nattack = \"fgsm\"\nstep_size = 0.05\n").contains("adversarial.step_size"))
        #expect(error("[adversarial]\nmode = \"pgd\"\nattack = \"fgsm\"\nepsilon = 0.3\n") == "no error")
    }

    @Test func weakTrainingAttackWarnsLoudly() throws {
        let w = try warnings("[adversarial]\nmode = \"pgd\"\nepsilon = 0.3\nstep_size = 0.01\nsteps = 10\n")
        #expect(w.contains { $0.contains("WARNING 'adversarial.steps'") && $0.contains("cannot reach") }, "\(w)")
    }

    @Test func weakEvaluationAttackIsRefusedUnlessAllowed() throws {
        let body = "[evaluation]\nrobust = true\nepsilon = 0.3\nstep_size = 0.01\nsteps = 10\n"
        #expect(error(body).contains("evaluation.steps"))
        let w = try warnings(body + "allow_weak_attack = true\n")
        #expect(w.contains { $0.contains("evaluation.steps") })
    }

    @Test func keysNeverVanishWithTheStrategy() throws {
        // MWA, Krum and optimiser keys under fedavg + sgd: accepted, each with a warning.
        let w = try warnings("[merge]\nstrategy = \"fedavg\"\npenalty = 2\nbyzantine = 1\ntrim_beta = 0.2\nbeta1 = 0.8\n[evaluation]\nsteps = 40\n")
        for key in ["merge.penalty", "merge.byzantine", "merge.trim_beta", "merge.beta1", "evaluation.steps"] {
            #expect(w.contains { $0.contains("'\(key)' is ignored") }, "\(key): \(w)")
        }
        // The unknown-key list names every accepted key, including the ones of other strategies.
        let e = error("[merge]\nstrategy = \"fedavg\"\npenalti = 2\n")
        for key in ["metric", "penalty", "combine", "missing_metric", "trim_beta", "byzantine", "selected", "fedavg_weight",
                    "server_momentum", "beta1", "beta2", "tau", "clip_norm", "checkpoints"] {
            #expect(e.contains(key), "\(key) missing from: \(e)")
        }
        #expect(error("[evaluation]\nstep = 3\n").contains("allow_weak_attack"))
    }

    @Test func runNamesThatLeaveTheOutputDirectoryAreRefused() {
        #expect(error("", name: ".").contains("run.name"))
        #expect(error("", name: "..").contains("run.name"))
        #expect(error("", name: "a/b").contains("run.name"))
        #expect(error("", name: "v1.2") == "no error")
    }

    @Test func modelsThatCannotFitAreRefusedWithTheEstimate() {
        let e = error("[data]\ndataset = \"fashion-mnist\"\n[model]\nhidden = [65536, 65536]\n")
        #expect(e.contains("model.hidden") && e.contains("GiB") && e.contains("parameters"), "\(e)")
    }

    @Test func bindPortOutsideTheTCPRangeIsRefused() {
        #expect(error("[server]\nbind = \"tcp://127.0.0.1:99999\"\n").contains("server.bind"))
        #expect(error("[server]\nbind = \"tcp://*:65535\"\n") == "no error")
    }

    @Test func checkpointMergingOnValLossUsesAValidationSplit() throws {
        let t = try Topology.parse("[run]\nname = \"x\"\n[merge.checkpoints]\nmetric = \"val_loss\"\n")
        #expect(t.validationFraction == 0.1)
        #expect(error("[merge.checkpoints]\nmetric = \"val_loss\"\n[evaluation]\nvalidation_fraction = 0.0\n").contains("evaluation.validation_fraction"))
        #expect(try Topology.parse("[run]\nname = \"x\"\n").validationFraction == 0)
    }

    @Test func robustEveryMustBeAnEvaluationRound() throws {
        #expect(error("[server]\neval_every = 2\n[evaluation]\nrobust = true\nevery = 3\n").contains("evaluation.every"))
        let t = try Topology.parse("[run]\nname = \"x\"\n[server]\neval_every = 2\n[evaluation]\nrobust = true\n")
        #expect(t.robustEvaluation?.every == 2)
    }

    @Test func fedavgWeightIsATopologyChoice() throws {
        #expect(try Topology.parse("[run]\nname = \"x\"\n").merge.strategy == .fedavg)
        let t = try Topology.parse("[run]\nname = \"x\"\n[merge]\nfedavg_weight = \"samples_processed\"\n")
        #expect(t.merge.strategy == .fedavgSamplesProcessed)
    }
}
