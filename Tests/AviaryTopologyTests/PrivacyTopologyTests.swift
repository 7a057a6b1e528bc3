import Foundation
import Testing
@testable import AviaryTopology
import AviaryNN
import AviaryPrivacy
import AviaryProtocol

/// `[privacy]` and `[server] sampling`: parsed with the paper's defaults, refused with the key
/// named, accounted (ε of the plan), and carried to clients in the run spec.
@Suite struct PrivacyTopologyTests {
    static let base = """
        [run]
        name = "p"
        rounds = 100
        [data]
        dataset = "synthetic"
        clients = 100
        [model]
        kind = "mlp"
        [merge]
        strategy = "uniform"
        [server]
        clients_per_round = 10
        sampling = "poisson"
        """

    func parse(_ overrides: [String]) throws -> Topology {
        try Topology.parse(try Topology.applying(overrides, to: Self.base, file: "t.toml"), file: "t.toml")
    }

    /// Adaptive clipping on the client side is accepted (the round's S travels in TRAIN).
    @Test func adaptiveClippingOnTheClientIsAccepted() throws {
        let t = try parse(["privacy.mode=central", "privacy.clipping=adaptive", "privacy.clip_on=client", "privacy.noise_multiplier=0.5"])
        #expect(t.privacy.clientReportsUnclipped)
    }

    @Test func offByDefaultAndDefaultsFromThePaper() throws {
        #expect(try parse([]).privacy.mode == .none)
        let t = try parse(["privacy.mode=central", "privacy.clipping=adaptive", "privacy.noise_multiplier=0.5"])
        #expect(t.privacy.targetQuantile == 0.5 && t.privacy.clipLearningRate == 0.2)
        #expect(t.privacy.clippedCountStddev == 10.0 / 20 && t.privacy.clipNorm == 0.1)
        #expect(t.privacy.delta == 1.0 / 100)
        #expect(t.server.sampling == .poisson && t.privacySamplingRate == 0.1)
        #expect(t.config["privacy.clip_learning_rate"] != nil)
        let spec = t.runSpec(model: .mlp(inputs: 60, hidden: [8], classes: 10))
        #expect(try JSONDecoder().decode(RunSpec.self, from: JSONEncoder().encode(spec)).privacy == t.privacy)
        #expect(try parse([]).runSpec(model: .mlp(inputs: 60, hidden: [8], classes: 10)).privacy == nil)
    }

    @Test func thePlanIsAccounted() throws {
        let t = try parse(["privacy.mode=central", "privacy.delta=1e-3"])
        let account = try #require(t.privacyAccount)
        let direct = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1).epsilon(rounds: 100, delta: 1e-3).epsilon
        #expect(account.epsilon(afterRounds: 100) == direct)
        // Fixed-size sampling of a subset: the without-replacement bound, replace-one (z/2).
        let fixed = try #require(try parse(["privacy.mode=central", "server.sampling=fixed", "privacy.delta=1e-3"]).privacyAccount)
        #expect(fixed.accountant.sampling == .withoutReplacement && fixed.samplingRate == 0.1 && fixed.noiseMultiplier == 0.5)
        let wor = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 0.5, sampling: .withoutReplacement)
        #expect(fixed.epsilon(afterRounds: 100) == wor.epsilon(rounds: 100, delta: 1e-3).epsilon)
        #expect(fixed.epsilon(afterRounds: 100).isFinite && fixed.epsilon(afterRounds: 100) != account.epsilon(afterRounds: 100))
        // Everyone every round: q = 1.
        #expect(try parse(["privacy.mode=central", "server.sampling=fixed", "server.clients_per_round=100"]).privacyAccount?.samplingRate == 1)
        // Local: per client, sensitivity 2S, no amplification.
        let local = try #require(try parse(["privacy.mode=local", "privacy.noise_multiplier=4"]).privacyAccount)
        #expect(local.samplingRate == 1 && local.noiseMultiplier == 2)
    }

    @Test func onBudgetStopPlansTheLastRoundWithinTheTarget() throws {
        let t = try parse(["privacy.mode=central", "privacy.delta=1e-3", "privacy.target_epsilon=3", "privacy.on_budget=stop"])
        let account = try #require(t.privacyAccount)
        #expect(t.plannedRounds < 100 && t.plannedRounds > 0)
        #expect(account.epsilon(afterRounds: t.plannedRounds) <= 3)
        #expect(account.epsilon(afterRounds: t.plannedRounds + 1) > 3)
        #expect(try parse(["privacy.mode=central", "privacy.target_epsilon=1000"]).plannedRounds == 100)
    }

    @Test func badInputNamesTheKey() throws {
        let cases: [([String], String)] = [
            (["privacy.mode=centrall"], "privacy.mode"),
            (["privacy.mode=central", "privacy.clipping=sometimes"], "privacy.clipping"),
            (["privacy.mode=central", "privacy.clip_norm=0"], "privacy.clip_norm"),
            (["privacy.mode=central", "privacy.clip_norm=-1"], "privacy.clip_norm"),
            (["privacy.mode=central", "privacy.noise_multiplier=0", "privacy.target_epsilon=5"], "privacy.noise_multiplier"),
            (["privacy.mode=central", "privacy.target_epsilon=0"], "privacy.target_epsilon"),
            (["privacy.mode=central", "privacy.target_epsilon=0.001", "privacy.on_budget=stop"], "privacy.target_epsilon"),
            (["privacy.mode=central", "privacy.target_epsilon=1"], "privacy.target_epsilon"),
            (["privacy.mode=central", "privacy.target_epsilon=1", "server.sampling=fixed"], "privacy.target_epsilon"),
            (["privacy.mode=central", "privacy.on_budget=maybe"], "privacy.on_budget"),
            (["privacy.mode=central", "merge.strategy=median"], "merge.strategy"),
            (["privacy.mode=central", "merge.strategy=trimmed-mean"], "merge.strategy"),
            (["privacy.mode=central", "merge.strategy=krum", "merge.byzantine=1"], "merge.strategy"),
            (["privacy.mode=central", "merge.clip_norm=1"], "merge.clip_norm"),
            (["privacy.mode=local", "privacy.clipping=adaptive"], "privacy.clipping"),
            (["privacy.mode=central", "privacy.clip_on=client", "compression.encoding=topk"], "privacy.clip_on"),
            (["privacy.mode=central", "privacy.clipping=adaptive", "privacy.clip_on=client", "privacy.noise_multiplier=0.5",
              "system.straggler_policy=stale", "system.deadline=10"], "privacy.clip_on"),
            (["privacy.mode=central", "privacy.clipping=adaptive", "privacy.noise_multiplier=2"], "privacy.clipped_count_stddev"),
            (["server.sampling=sometimes"], "server.sampling"),
        ]
        for (overrides, key) in cases {
            do {
                _ = try parse(overrides)
                Issue.record("\(overrides) was accepted")
            } catch {
                #expect("\(error)".contains(key), "\(overrides): \(error)")
            }
        }
    }

    @Test func warningsForDeltaAndZeroNoise() throws {
        let t = try parse(["privacy.mode=central", "privacy.delta=0.05", "privacy.noise_multiplier=0"])
        #expect(t.warnings.contains { $0.contains("privacy.delta") && $0.contains("1/N") })
        #expect(t.warnings.contains { $0.contains("privacy.noise_multiplier") })
        let off = try parse(["privacy.noise_multiplier=3"])
        #expect(off.warnings.contains { $0.contains("privacy.noise_multiplier") && $0.contains("ignored") })
    }
}
