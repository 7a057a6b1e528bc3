import Foundation
import Testing
@testable import AviaryTopology
import AviaryAdversarial

/// `[attackers]`: who attacks (seeded), with what, and the combinations refused by key.
@Suite struct AttackerTopologyTests {
    static let head = "[run]\nname = \"b\"\n[data]\nclients = 100\n[server]\nclients_per_round = 10\n"

    func parse(_ body: String) throws -> Topology { try Topology.parse(Self.head + body, file: "t.toml") }

    func error(_ body: String) -> String {
        do { _ = try parse(body); return "no error" } catch { return "\(error)" }
    }

    @Test func noSectionMeansNoAttackers() throws {
        let a = try parse("").attackers
        #expect(!a.isActive && a.clients.isEmpty && a.attack.kind == .none)
        #expect(a.seed == 5, "[seeds] attackers defaults to base + 5 (base + 4 is [system]'s)")
        #expect(try parse("[seeds]\nbase = 10\n").attackers.seed == 15)
    }

    @Test func fractionChoosesClientsFromTheAttackerSeedAlone() throws {
        let a = try parse("[attackers]\nkind = \"sign_flip\"\nfraction = 0.3\n").attackers
        #expect(a.isActive && a.clients.count == 30 && a.clients == a.clients.sorted())
        #expect(Set(a.clients).count == 30 && a.clients.allSatisfy { (0..<100).contains($0) })
        // The same seed names the same clients whatever else changes; another seed others.
        let again = try parse("[seeds]\nsampling = 99\ntraining = 98\n[attackers]\nkind = \"scale\"\nfraction = 0.3\n").attackers
        #expect(again.clients == a.clients)
        let other = try parse("[seeds]\nattackers = 6\n[attackers]\nkind = \"sign_flip\"\nfraction = 0.3\n").attackers
        #expect(other.clients != a.clients && other.seed == 6)
        #expect(Topology.AttackerSettings.choose(count: 30, of: 100, seed: 5) == a.clients)
        // A smaller share of the same seed is a prefix of the same permutation.
        let ten = try parse("[attackers]\nkind = \"sign_flip\"\nfraction = 0.1\n").attackers.clients
        #expect(Set(ten).isSubset(of: Set(a.clients)))
    }

    @Test func countAndExplicitClients() throws {
        let c = try parse("[attackers]\nkind = \"gaussian\"\ncount = 7\n").attackers
        #expect(c.clients.count == 7 && c.chosenBy == "count" && c.attack.noiseStd == 1)
        let e = try parse("[attackers]\nkind = \"label_flip\"\nclients = [9, 2, 5]\n").attackers
        #expect(e.clients == [2, 5, 9] && e.chosenBy == "clients")
        #expect(try !parse("[attackers]\nkind = \"sign_flip\"\nfraction = 0\n").attackers.isActive)
    }

    @Test func parametersAndTheirDefaults() throws {
        #expect(try parse("[attackers]\nkind = \"sign_flip\"\ncount = 1\n").attackers.attack.scale == 1)
        #expect(try parse("[attackers]\nkind = \"scale\"\ncount = 1\n").attackers.attack.scale == 10)
        #expect(try parse("[attackers]\nkind = \"sign_flip\"\ncount = 1\nscale = 4\n").attackers.attack.scale == 4)
        #expect(try parse("[attackers]\nkind = \"gaussian\"\ncount = 1\nnoise_std = 0.2\n").attackers.attack.noiseStd == 0.2)
        // ALIE's default z: Baruch et al.'s z_max for n = 10 per round, m = 3 expected attackers.
        let z = try parse("[attackers]\nkind = \"alie\"\nfraction = 0.3\n").attackers.attack.alieZ
        #expect(abs(Double(z) - 0.524_400_5) < 1e-5)
        #expect(try parse("[attackers]\nkind = \"alie\"\nfraction = 0.3\nalie_z = 1.5\n").attackers.attack.alieZ == 1.5)
        // IPM: ε defaults to 0.5; elsewhere the key is a warning.
        #expect(try parse("[attackers]\nkind = \"ipm\"\nfraction = 0.2\n").attackers.attack.ipmEpsilon == 0.5)
        let ipm = try parse("[attackers]\nkind = \"ipm\"\nfraction = 0.2\nipm_epsilon = 0.1\n").attackers
        #expect(ipm.attack.kind == .ipm && ipm.attack.ipmEpsilon == 0.1 && ipm.clients.count == 20 && ipm.attack.isCollusive)
        #expect(try parse("[attackers]\nkind = \"sign_flip\"\ncount = 1\nipm_epsilon = 2\n").warnings.contains { $0.contains("attackers.ipm_epsilon") })
        #expect(error("[attackers]\nkind = \"ipm\"\ncount = 1\nipm_epsilon = -1\n").contains("attackers.ipm_epsilon"))
    }

    @Test func badCombinationsNameTheKey() {
        let both = error("[attackers]\nkind = \"sign_flip\"\nfraction = 0.1\nclients = [1]\n")
        #expect(both.contains("attackers.clients") && both.contains("attackers.fraction"), "\(both)")
        let fc = error("[attackers]\nkind = \"sign_flip\"\nfraction = 0.1\ncount = 3\n")
        #expect(fc.contains("attackers.count") && fc.contains("not both"), "\(fc)")
        #expect(error("[attackers]\nkind = \"sign_flip\"\nfraction = 1.5\n").contains("attackers.fraction"))
        #expect(error("[attackers]\nkind = \"sign_flip\"\ncount = 101\n").contains("attackers.count"))
        #expect(error("[attackers]\nkind = \"sign_flip\"\nclients = [100]\n").contains("attackers.clients"))
        #expect(error("[attackers]\nkind = \"sign_flip\"\nclients = [1, 1]\n").contains("at most once"))
        let kind = error("[attackers]\nkind = \"flip\"\ncount = 1\n")
        #expect(kind.contains("attackers.kind") && kind.contains("\"sign_flip\""), "\(kind)")
        #expect(error("[attackers]\nkind = \"sign_flip\"\ncount = 1\nscale = -1\n").contains("attackers.scale"))
        #expect(error("[attackers]\nkind = \"sign_flip\"\ncount = 1\nscal = 2\n").contains("unknown key 'attackers.scal'"))
        // Six of ten per round: the paper's z_max is unbounded, so alie_z must be given.
        let alie = error("[attackers]\nkind = \"alie\"\nfraction = 0.6\n")
        #expect(alie.contains("attackers.alie_z"), "\(alie)")
        #expect(error("[attackers]\nkind = \"alie\"\nfraction = 0.6\nalie_z = 1\n") == "no error")
        #expect(error("[seeds]\nattackers = -1\n").contains("seeds.attackers"))
    }

    @Test func keysThatDoNotApplyAreWarnings() throws {
        let w = try parse("[attackers]\nkind = \"gaussian\"\ncount = 2\nscale = 3\nalie_z = 1\n").warnings
        #expect(w.contains { $0.contains("attackers.scale") } && w.contains { $0.contains("attackers.alie_z") }, "\(w)")
        let none = try parse("[attackers]\nkind = \"none\"\nfraction = 0.3\n")
        #expect(!none.attackers.isActive && none.warnings.contains { $0.contains("attackers.fraction") })
    }

    @Test func overridesReachTheSection() throws {
        let text = try Topology.applying(["attackers.kind=scale", "attackers.fraction=0.1", "seeds.attackers=9"],
                                         to: Self.head, file: "t.toml")
        let a = try Topology.parse(text, file: "t.toml").attackers
        #expect(a.attack.kind == .scale && a.clients.count == 10 && a.seed == 9)
    }

    @Test func rolesNeverReachTheRunSpec() throws {
        let t = try parse("[attackers]\nkind = \"sign_flip\"\nfraction = 0.3\n")
        let spec = t.runSpec(model: .logreg(inputs: 60, classes: 10))
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(!json.contains("sign_flip") && !json.contains("attackers"), "\(json)")
    }
}
