import Foundation
import Testing
@testable import AviaryMerge

/// FedAvg's two weights and MWA's missing-metric policies (hand-computed).
@Suite struct FallbackAndWeightTests {
    /// Dataset sizes 1 and 3 but 4 and 4 samples processed (say max_local_steps cut client 1).
    static let updates = [
        ClientUpdate(clientIndex: 0, samples: 4, metrics: ["dataset_size": 1], delta: [1, 2]),
        ClientUpdate(clientIndex: 1, samples: 4, metrics: ["dataset_size": 3], delta: [4, 8]),
    ]

    @Test func fedavgWeightsByDatasetSizeByDefault() throws {
        let r = try aggregate(Self.updates, strategy: .fedavg)
        #expect(r.weights == [0: 0.25, 1: 0.75])
        #expect(r.delta == [3.25, 6.5])
    }

    @Test func fedavgSamplesProcessedIsTheNamedOption() throws {
        let r = try aggregate(Self.updates, strategy: .fedavgSamplesProcessed)
        #expect(r.weights == [0: 0.5, 1: 0.5])
    }

    @Test func fedavgWithoutDatasetSizeIsRejectedWithTheReason() throws {
        let updates = [ClientUpdate(clientIndex: 0, samples: 4, metrics: [:], delta: [1, 2]), Self.updates[1]]
        let r = try aggregate(updates, strategy: .fedavg)
        #expect(r.rejected.map(\.clientIndex) == [0])
        #expect("\(r.rejected[0].reason)".contains("dataset_size"))
    }

    static let mixed = [
        ClientUpdate(clientIndex: 0, samples: 1, metrics: ["adv_loss": 1], delta: [4, 0]),
        ClientUpdate(clientIndex: 1, samples: 1, metrics: ["adv_loss": 3], delta: [0, 4]),
        ClientUpdate(clientIndex: 2, samples: 1, metrics: ["train_loss": 1], delta: [0, 0]),
    ]

    @Test func missingMetricSkipRejectsThoseUpdates() throws {
        let r = try aggregate(Self.mixed, strategy: .mwa(MWAConfig(metric: .advLoss, penalty: 1, missingMetric: .skip)))
        #expect(r.rejected.map(\.clientIndex) == [2])
        #expect("\(r.rejected[0].reason)".contains("adv_loss"))
        #expect(r.weights == [0: 0.75, 1: 0.25])
        #expect(r.fallbacks.isEmpty)
    }

    @Test func missingMetricUniformMergesTheRoundUniformlyAndSaysWhy() throws {
        let r = try aggregate(Self.mixed, strategy: .mwa(MWAConfig(metric: .advLoss, penalty: 1, missingMetric: .uniform)))
        #expect(r.rejected.isEmpty)
        #expect(r.fallbacks.map(\.clientIndex) == [2])
        #expect("\(r.fallbacks[0].reason)".contains("merged uniformly"))
        for w in r.weights.values { #expect(abs(w - 1.0 / 3) < 1e-12) }
    }

    @Test func missingMetricUniformKeepsMWAWhenEveryoneReports() throws {
        let r = try aggregate(Array(Self.mixed.prefix(2)), strategy: .mwa(MWAConfig(metric: .advLoss, penalty: 1, missingMetric: .uniform)))
        #expect(r.weights == [0: 0.75, 1: 0.25] && r.fallbacks.isEmpty)
    }

    @Test func strategyNamesAreTheTopologySpellingAndOldLogsStillDecode() throws {
        #expect(AggregationStrategy.trimmedMean(beta: 0.1).name == "trimmed-mean")
        #expect(AggregationStrategy.multiKrum(byzantine: 1, selected: 2).name == "multi-krum")
        let old = try JSONDecoder().decode(AggregationStrategy.self, from: Data(#"{"name":"trimmed_mean","beta":0.1}"#.utf8))
        #expect(old == .trimmedMean(beta: 0.1))
        let oldFedAvg = try JSONDecoder().decode(AggregationStrategy.self, from: Data(#"{"name":"fedavg"}"#.utf8))
        #expect(oldFedAvg == .fedavgSamplesProcessed)
        let encoded = String(decoding: try JSONEncoder().encode(AggregationStrategy.fedavg), as: UTF8.self)
        #expect(encoded.contains("dataset_size"))
    }
}
