import Foundation
import Testing
import AviaryAdversarial
import AviaryTopology

/// `[evaluation] attack = "apgd-…"`: defaults, keys, and the refusals that name the key.
@Suite struct APGDTopologyTests {
    func parse(_ body: String) throws -> Topology {
        try Topology.parse("[run]\nname = \"x\"\n" + body, file: "t.toml")
    }

    func error(_ body: String) -> String {
        do { _ = try parse(body); return "no error" } catch { return "\(error)" }
    }

    @Test func apgdDefaultsToHundredStepsAndOneRestart() throws {
        let t = try parse("[evaluation]\nrobust = true\nattack = \"apgd-ce\"\nepsilon = 0.1\n")
        let a = try #require(t.robustEvaluation?.attack)
        #expect(a.kind == .apgdCE && a.steps == 100 && a.restarts == 1 && a.epsilon == 0.1)
        let dlr = try parse("[evaluation]\nrobust = true\nattack = \"apgd-dlr\"\nsteps = 50\nrestarts = 3\n").robustEvaluation?.attack
        #expect(dlr?.kind == .apgdDLR && dlr?.steps == 50 && dlr?.restarts == 3)
        let t9 = try parse("[evaluation]\nrobust = true\nattack = \"apgd-t\"\ntargets = 4\n").robustEvaluation?.attack
        #expect(t9?.kind == .apgdT && t9?.targets == 4)
        #expect(try parse("[evaluation]\nrobust = true\nattack = \"autoattack-lite\"\n").robustEvaluation?.attack.kind == .autoattackLite)
    }

    @Test func apgdWorksThroughOverrides() throws {
        let text = "[run]\nname = \"x\"\n[evaluation]\nrobust = true\n"
        let resolved = try Topology.applying(["evaluation.attack=apgd-dlr", "evaluation.restarts=2"], to: text, file: "t.toml")
        let t = try Topology.parse(resolved, file: "t.toml")
        #expect(t.robustEvaluation?.attack.kind == .apgdDLR && t.robustEvaluation?.attack.restarts == 2)
    }

    @Test func keysThatDoNotBelongAreRefusedByName() {
        #expect(error("[evaluation]\nrobust = true\nattack = \"apgd-ce\"\ntargets = 3\n").contains("evaluation.targets"))
        #expect(error("[evaluation]\nrobust = true\nattack = \"pgd\"\nrestarts = 2\n").contains("evaluation.restarts"))
        #expect(error("[evaluation]\nrobust = true\nattack = \"apgd-ce\"\nrestarts = 0\n").contains("evaluation.restarts"))
        // Training crafts its examples with FGSM or PGD only.
        let e = error("[adversarial]\nmode = \"pgd\"\nattack = \"apgd-ce\"\n")
        #expect(e.contains("adversarial.attack") && e.contains("evaluation"), "\(e)")
        #expect(error("[adversarial]\nmode = \"pgd\"\nrestarts = 2\n").contains("adversarial.restarts"))
    }

    @Test func pgdKeysAreIgnoredWithAWarning() throws {
        // APGD picks its own step and always starts at random; a PGD topology switched by --set still parses.
        let t = try parse("[evaluation]\nrobust = true\nattack = \"apgd-ce\"\nstep_size = 0.01\nrandom_start = false\n")
        #expect(t.warnings.contains { $0.contains("evaluation.step_size") && $0.contains("ignored") }, "\(t.warnings)")
        #expect(t.warnings.contains { $0.contains("evaluation.random_start") }, "\(t.warnings)")
    }

    @Test func apgdNeedsNoWeakAttackCheck() throws {
        // steps × step_size does not apply: η starts at 2ε.
        let t = try parse("[evaluation]\nrobust = true\nattack = \"apgd-ce\"\nepsilon = 0.3\nsteps = 5\n")
        #expect(t.robustEvaluation?.attack.steps == 5)
        #expect(t.warnings.isEmpty, "\(t.warnings)")
    }
}
