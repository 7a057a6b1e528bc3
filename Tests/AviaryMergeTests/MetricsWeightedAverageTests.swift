import Testing
@testable import AviaryMerge
import AviaryMath

@Suite struct MetricsWeightedAverageTests {
    @Test func zeroPenaltyIsExactlyUniform() throws {
        let updates = Fixtures.randomUpdates(n: 7, p: 1000, seed: 11)
        for metric in [MWAMetric.trainLoss, .advLoss, .steps] {
            let mwa = try aggregate(updates, strategy: .mwa(MWAConfig(metric: metric, penalty: 0)))
            let uniform = try aggregate(updates, strategy: .uniform)
            #expect(mwa.delta.map(\.bitPattern) == uniform.delta.map(\.bitPattern))
            #expect(mwa.weights == uniform.weights)
        }
    }

    @Test func lowerLossGetsMoreWeight() throws {
        let updates = Fixtures.randomUpdates(n: 10, p: 4, seed: 12)
        for p in [0.5, 1, 3, 10] {
            let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: p)))
            let byLoss = updates.sorted { $0.metrics["train_loss"]! < $1.metrics["train_loss"]! }
            let weights = byLoss.map { r.weights[$0.clientIndex]! }
            #expect(zip(weights, weights.dropFirst()).allSatisfy { $0 > $1 || $1 == 0 })
        }
    }

    @Test func largerPenaltyConcentratesWeight() throws {
        let metrics = [0.5, 1, 2]
        let soft = try MetricsWeightedAverage.weights(metrics: metrics, kind: .loss, penalty: 1)
        let sharp = try MetricsWeightedAverage.weights(metrics: metrics, kind: .loss, penalty: 10)
        #expect(sharp[0] > soft[0] && sharp[0] > 0.999)
    }

    @Test func extremeMetricsNeverGiveNaN() throws {
        let metrics = [1e-300, 1e300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1]
        for kind in MetricKind.allCases {
            for p in [0, 1e-9, 1, 10] {
                let w = try MetricsWeightedAverage.weights(metrics: metrics, kind: kind, penalty: p)
                #expect(w.allSatisfy { $0.isFinite && $0 >= 0 })
                #expect(abs(w.reduce(0, +) - 1) < 1e-12)
            }
        }
    }

    @Test func badMetricsAreRejectedWithReasons() throws {
        let updates = [
            Fixtures.update(0, [1], loss: 0.5),
            Fixtures.update(1, [100], loss: .nan),
            Fixtures.update(2, [100], loss: 0),
            Fixtures.update(3, [100], loss: -1),
            Fixtures.update(4, [100], loss: .infinity),
            Fixtures.update(5, [100]),
        ]
        let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: 1)))
        #expect(r.delta == [1])
        #expect(r.weights == [0: 1])
        #expect(r.rejected.map(\.clientIndex) == [1, 2, 3, 4, 5])
        #expect("\(r.rejected[0].reason)".contains("not finite"))
        #expect("\(r.rejected[1].reason)".contains("> 0"))
        #expect("\(r.rejected[4].reason)".contains("missing"))
    }

    @Test func allRejectedIsAnError() {
        let updates = [Fixtures.update(0, [1]), Fixtures.update(1, [2])]
        #expect(throws: MergeError.self) {
            try aggregate(updates, strategy: .mwa(MWAConfig(metric: .advLoss, penalty: 1)))
        }
    }

    @Test func samplesMetricFallsBackToTheSampleCount() throws {
        let updates = [Fixtures.update(0, [0], samples: 1), Fixtures.update(1, [5], samples: 4)]
        let r = try aggregate(updates, strategy: .mwa(MWAConfig(metric: .samples, penalty: 1)))
        #expect(r.weights == [0: 0.2, 1: 0.8])
    }

    @Test(arguments: [-0.1, 10.5, .nan, .infinity])
    func penaltyOutOfRangeIsAConfigError(p: Double) {
        #expect(throws: MergeConfigError.self) {
            try aggregate([Fixtures.update(0, [1], loss: 1)], strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: p)))
        }
    }

    @Test func otherConfigErrors() {
        let one = [Fixtures.update(0, [1])]
        #expect(throws: MergeConfigError.trimFractionOutOfRange(0.5)) { try aggregate(one, strategy: .trimmedMean(beta: 0.5)) }
        #expect(throws: MergeConfigError.negativeByzantineCount(-1)) { try aggregate(one, strategy: .krum(byzantine: -1)) }
        #expect(throws: MergeConfigError.invalidSelectedCount(0)) { try aggregate(one, strategy: .multiKrum(byzantine: 0, selected: 0)) }
        #expect(throws: MergeConfigError.invalidClipNorm(0)) { try aggregate(one, strategy: .uniform, clipNorm: 0) }
    }

    @Test func strategyCodableIsFlatAndRoundTrips() throws {
        for strategy in Fixtures.allStrategies {
            let data = try JSONEncoder().encode(strategy)
            #expect(try JSONDecoder().decode(AggregationStrategy.self, from: data) == strategy)
        }
        let json = #"{"name":"mwa","metric":"adv_loss","penalty":3}"#
        let decoded = try JSONDecoder().decode(AggregationStrategy.self, from: Data(json.utf8))
        #expect(decoded == .mwa(MWAConfig(metric: .advLoss, penalty: 3)))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AggregationStrategy.self, from: Data(#"{"name":"mean"}"#.utf8))
        }
    }

    @Test func checkpointMergeWeightsByLoss() throws {
        let merged = try mergeCheckpoints([(parameters: [4, 0], metric: 1), (parameters: [0, 4], metric: 3)],
                                          kind: .loss, penalty: 1)
        #expect(Fixtures.close(merged.parameters, [3, 1]))
        #expect(abs(merged.weights[0] - 0.75) < 1e-12)
        #expect(throws: MergeError.invalidCheckpoint(position: 1, reason: "has 1 parameters but checkpoint #1 has 2")) {
            try mergeCheckpoints([(parameters: [1, 2], metric: 1), (parameters: [1], metric: 1)], kind: .loss, penalty: 1)
        }
        #expect(throws: MergeError.self) {
            try mergeCheckpoints([(parameters: [1], metric: 0)], kind: .progress, penalty: 1)
        }
        #expect(throws: MergeConfigError.penaltyOutOfRange(11)) {
            try mergeCheckpoints([(parameters: [1], metric: 1)], kind: .loss, penalty: 11)
        }
    }
}

import Foundation
