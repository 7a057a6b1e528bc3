import Testing
@testable import AviaryTopology
import AviarySecAgg

/// `[secagg]`: parsed, each combination SecAgg cannot serve refused with the key and the reason,
/// the rest accepted with the weight rule each client applies to itself.
@Suite struct SecAggTopologyTests {
    static let base = """
        [run]
        name = "s"
        rounds = 3
        [data]
        dataset = "synthetic"
        clients = 100
        [model]
        kind = "mlp"
        [merge]
        strategy = "uniform"
        max_update_norm_ratio = 0
        [server]
        clients_per_round = 20
        [secagg]
        enabled = true
        """

    func parse(_ overrides: [String], base: String = Self.base) throws -> Topology {
        try Topology.parse(try Topology.applying(overrides, to: base, file: "t.toml"), file: "t.toml")
    }

    /// The refusal for `overrides`: its key and its reason.
    func refusal(_ overrides: [String]) -> (key: String, expected: String)? {
        do {
            _ = try parse(overrides)
        } catch let error as TopologyError {
            if case let .invalidValue(_, key, _, expected) = error { return (key, expected) }
            Issue.record("not an invalid value: \(error)")
        } catch {
            Issue.record("not a topology error: \(error)")
        }
        return nil
    }

    @Test func offByDefaultAndKeysIgnoredWhenDisabled() throws {
        let plain = Self.base.replacingOccurrences(of: "[secagg]\nenabled = true", with: "")
        #expect(try parse([], base: plain).secAgg.enabled == false)
        let off = try parse(["secagg.enabled=false", "secagg.num_shares=6"])
        #expect(off.secAgg == SecAggSettings())
        #expect(off.warnings.contains { $0.contains("num_shares") })
    }

    @Test func validSecAggTopologiesAreAcceptedWithTheirWeightRule() throws {
        let t = try parse(["secagg.num_shares=6", "secagg.reconstruction_threshold=4", "secagg.clipping_range=0.5"])
        #expect(t.secAgg.enabled && t.secAgg.numShares == 6 && t.secAgg.clippingRange == 0.5)
        #expect(t.runSpec(model: try t.model.resolve(sampleShape: [10], classes: 2)).secagg == t.secAgg)
        #expect(SecAggWeightRule.of(t, largestPartition: 50) == .uniform)
        let fedavg = try parse(["merge.strategy=fedavg"])
        #expect(SecAggWeightRule.of(fedavg, largestPartition: 50) == .samples(weight: .datasetSize, reference: 50))
        let mwa = try parse(["merge.strategy=mwa", "merge.metric=train_loss", "merge.penalty=2", "secagg.mwa_reference=0.1"])
        #expect(SecAggWeightRule.of(mwa, largestPartition: 50) == .mwaLoss(metric: .trainLoss, penalty: 2, reference: 0.1))
    }

    @Test func centralDPWithClientClippingRunsAsDPFedAvgWithUnitWeights() throws {
        for strategy in ["uniform", "fedavg"] {
            let t = try parse(["merge.strategy=\(strategy)", "privacy.mode=central", "privacy.clip_on=client",
                               "privacy.clip_norm=0.5", "privacy.noise_multiplier=1.1"])
            #expect(t.privacy.mode == .central && t.privacy.clipOn == .client)
            // Sizes are not used under DP-FedAvg: every client masks its clipped delta with weight 1.
            #expect(SecAggWeightRule.of(t, largestPartition: 50) == .uniform, "\(strategy)")
            #expect(t.runSpec(model: try t.model.resolve(sampleShape: [10], classes: 2)).privacy?.clipOn == .client)
        }
    }

    @Test func eachClientsWeightLiesInTheUnitIntervalAndNamesWhyItHasNone() {
        #expect(SecAggWeightRule.uniform.weight(samples: 3, metrics: [:]) == .success(1))
        let fedavg = SecAggWeightRule.samples(weight: .datasetSize, reference: 50)
        #expect(fedavg.weight(samples: 99, metrics: ["dataset_size": 25]) == .success(0.5))
        #expect(fedavg.weight(samples: 0, metrics: ["dataset_size": 0]) == .failure(.nonPositiveSamples(0)))
        let mwa = SecAggWeightRule.mwaLoss(metric: .trainLoss, penalty: 2, reference: 0.1)
        #expect(mwa.weight(samples: 1, metrics: ["train_loss": 0.2]) == .success(0.25))
        #expect(mwa.weight(samples: 1, metrics: ["train_loss": 0.05]) == .success(1))  // below the reference: clamped
        guard case .failure(.unusableMetric(let why)) = mwa.weight(samples: 1, metrics: [:]) else { Issue.record("a missing metric weighed"); return }
        #expect(why.contains("missing"))
    }

    @Test(arguments: [
        (["merge.strategy=median"], "merge.strategy", "median needs each one"),
        (["merge.strategy=krum"], "merge.strategy", "krum needs each one"),
        (["merge.strategy=trimmed-mean"], "merge.strategy", "trimmed-mean needs each one"),
        (["merge.clip_norm=1"], "merge.clip_norm", "never sees one update"),
        (["merge.max_update_norm_ratio=1000"], "merge.max_update_norm_ratio", "cannot measure one client's norm"),
        (["merge.max_update_norm=5"], "merge.max_update_norm", "cannot measure one client's norm"),
        (["compression.encoding=int8"], "compression.encoding", "replaces f16 and int8"),
        (["compression.encoding=f16"], "compression.encoding", "replaces f16 and int8"),
        (["compression.encoding=topk"], "compression.encoding", "top-k saves nothing"),
        (["privacy.mode=central", "privacy.noise_multiplier=1"], "privacy.clip_on", "cannot clip an update it never sees"),
        (["privacy.mode=local", "privacy.clip_norm=1", "privacy.noise_multiplier=1"], "privacy.mode", "wired yet"),
        (["privacy.mode=central", "privacy.clip_on=client", "privacy.clipping=adaptive", "privacy.clipped_count_stddev=1"], "privacy.clipping", "masked too"),
        (["privacy.mode=central", "privacy.clip_on=client", "merge.strategy=mwa", "merge.metric=train_loss"], "merge.strategy", "normalise or cap"),
        (["merge.strategy=mwa", "merge.metric=local_steps"], "merge.metric", "a loss-type metric"),
        (["merge.strategy=mwa", "merge.metric=train_loss", "merge.combine=samples"], "merge.combine", "by its metric alone"),
        (["merge.strategy=mwa", "merge.metric=train_loss", "merge.missing_metric=uniform"], "merge.missing_metric", "cannot fall back"),
        (["secagg.num_shares=5"], "secagg.num_shares", "an even number"),
        (["secagg.num_shares=6", "secagg.reconstruction_threshold=3"], "secagg.reconstruction_threshold", "strict majority"),
        (["secagg.quantization_bits=31"], "secagg.quantization_bits", "the sum would wrap"),
    ])
    func whatCannotWorkUnderSecAggIsRefusedNamingTheKey(overrides: [String], key: String, reason: String) {
        let r = refusal(overrides)
        #expect(r?.key == key, "\(overrides)")
        #expect(r?.expected.contains(reason) == true, "\(r?.expected ?? "accepted")")
    }

    @Test func defaultsGrowWithTheRound() throws {
        let p = try SecAggSettings().parameters(round: 1, participants: Array(0..<100), vectorLength: 10)
        #expect(p.graph.degree == 14 && p.threshold == 8 && p.modulusBits == 32)
        let small = try SecAggSettings().parameters(round: 1, participants: [3, 5, 9], vectorLength: 10)
        #expect(small.graph.degree == 2 && small.threshold == 2)
    }
}
