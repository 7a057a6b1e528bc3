import Testing
import AviaryTopology

/// `[evaluation] mode` and `clients`: who evaluates, and the combinations refused.
@Suite struct EvaluationModeTopologyTests {
    func error(_ body: String) -> String {
        do { _ = try Topology.parse("[run]\nname = \"x\"\n" + body); return "" } catch { return "\(error)" }
    }

    @Test func modesParseAndReachTheRunSpec() throws {
        let plain = try Topology.parse("[run]\nname = \"x\"\n")
        #expect(plain.evaluation == EvaluationSettings(mode: .server))
        #expect(plain.config["evaluation.mode"] == .string("server"))
        let federated = try Topology.parse("[run]\nname = \"x\"\n[data]\nclients = 8\n[evaluation]\nmode = \"federated\"\nclients = 3\nrobust = true\nsteps = 20\nstep_size = 0.01\n")
        #expect(federated.evaluation == EvaluationSettings(mode: .federated, clients: 3))
        #expect(federated.config["evaluation.clients"] == .int(3))
        // Clients evaluate robustly only when the run spec carries the attack.
        let model = try federated.model.resolve(sampleShape: [60], classes: 10)
        #expect(federated.runSpec(model: model).robustEvaluation == federated.robustEvaluation)
        #expect(plain.runSpec(model: model).robustEvaluation == nil)
        let ignored = try Topology.parse("[run]\nname = \"x\"\n[evaluation]\nclients = 3\n")
        #expect(ignored.warnings.contains { $0.contains("evaluation.clients") && $0.contains("ignored") })
    }

    @Test func badModesAndCombinationsAreRefusedNamingTheKey() {
        #expect(error("[evaluation]\nmode = \"clients\"\n").contains("evaluation.mode"))
        #expect(error("[data]\nclients = 4\n[evaluation]\nmode = \"federated\"\nclients = 5\n").contains("evaluation.clients"))
        #expect(error("[merge.checkpoints]\nmetric = \"round\"\n[evaluation]\nmode = \"federated\"\n").contains("evaluation.mode"))
    }
}
