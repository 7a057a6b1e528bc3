import Testing
import AviaryMerge
import AviaryProtocol
@testable import AviaryServer
@testable import AviaryTopology

/// The pure part of a round, on hand-computed numbers: outcome + global + optimiser → new
/// global, weights, and the reason when nothing merged.
@Suite struct RoundLogicTests {
    typealias Outcome = RoundOutcome

    static func settings(_ strategy: AggregationStrategy = .fedavg, normBound: UpdateNormBound? = nil) -> Topology.MergeSettings {
        Topology.MergeSettings(strategy: strategy, serverOptimizer: .sgd(lr: 1), clipNorm: nil, normBound: normBound, checkpointMerge: nil)
    }

    static func update(_ client: Int, _ delta: [Float], size: Double, metrics: [String: Double] = [:]) -> ClientUpdate {
        ClientUpdate(clientIndex: client, samples: 10, metrics: metrics.merging(["dataset_size": size]) { a, _ in a }, delta: delta)
    }

    @Test func fedAvgWeightsByDatasetSizeAndAppliesTheServerStep() throws {
        // Prepare: sizes 1 and 3, so weights 0.25 and 0.75.
        let outcome = Outcome(round: 1, sampled: [0, 1], updates: [Self.update(0, [4, 0], size: 1), Self.update(1, [0, 4], size: 3)],
                              failures: [], rejected: [], timedOut: [], lost: [])
        // Execute
        let step = RoundLogic.merge(outcome, global: [1, 1], optimizer: try ServerOptimizer(spec: .sgd(lr: 1)), merge: Self.settings())
        // Assert: global + 0.25·[4,0] + 0.75·[0,4] = [2, 4]
        #expect(step.global == [2, 4])
        #expect(step.weights == [0: 0.25, 1: 0.75])
        #expect(!step.modelKept && step.nothingMerged == nil)
        #expect(abs(step.updateNorm - (1 + 9).squareRoot()) < 1e-6)
    }

    @Test func aRoundWithoutUpdatesKeepsTheModelAndSaysWhy() throws {
        let optimizer = try ServerOptimizer(spec: .sgd(lr: 1))
        let inf = RejectionReason.nonFiniteMetric(key: "train_loss", value: .infinity)
        let rejected = Outcome(round: 1, sampled: [0, 1], updates: [], failures: [],
                               rejected: [.init(clientIndex: 0, reason: inf), .init(clientIndex: 1, reason: inf)],
                               timedOut: [], lost: [])
        let a = RoundLogic.merge(rejected, global: [1], optimizer: optimizer, merge: Self.settings())
        #expect(a.modelKept && a.global == [1])
        #expect(a.nothingMerged == "metric train_loss is inf")
        let silent = Outcome(round: 1, sampled: [0], updates: [], failures: [], rejected: [], timedOut: [0], lost: [])
        #expect(RoundLogic.merge(silent, global: [1], optimizer: optimizer, merge: Self.settings()).nothingMerged
                == "no sampled client answered before the round deadline")
        let lost = Outcome(round: 1, sampled: [0], updates: [], failures: [], rejected: [], timedOut: [], lost: [0])
        #expect(RoundLogic.merge(lost, global: [1], optimizer: optimizer, merge: Self.settings()).nothingMerged
                == "the processes of all sampled clients were lost")
    }

    @Test func aStrategyThatRefusesEveryUpdateKeepsModelAndOptimiserUntouched() throws {
        // FedAvg by dataset size refuses updates that do not report it.
        let outcome = Outcome(round: 1, sampled: [0], updates: [ClientUpdate(clientIndex: 0, samples: 5, metrics: [:], delta: [3])],
                              failures: [], rejected: [], timedOut: [], lost: [])
        let optimizer = try ServerOptimizer(spec: .fedadam(lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        let step = RoundLogic.merge(outcome, global: [1], optimizer: optimizer, merge: Self.settings())
        #expect(step.modelKept && step.global == [1] && step.optimizer == optimizer)
        #expect(step.nothingMerged?.contains("dataset_size") == true, "\(step.nothingMerged ?? "")")
    }

    @Test func aStepThatWouldMakeTheModelNonFiniteIsNotApplied() throws {
        // Prepare: a finite merged delta of 3e38 on a global already at 3e38 overflows Float.
        let outcome = Outcome(round: 2, sampled: [0], updates: [Self.update(0, [3e38, 1], size: 1)],
                              failures: [], rejected: [], timedOut: [], lost: [])
        let optimizer = try ServerOptimizer(spec: .fedavgm(lr: 1, momentum: 0.9))
        // Execute
        let step = RoundLogic.merge(outcome, global: [3e38, 0], optimizer: optimizer, merge: Self.settings())
        // Assert: model and optimiser (its momentum) untouched, the reason names the coordinate.
        #expect(step.modelKept && step.global == [3e38, 0] && step.optimizer == optimizer)
        #expect(step.weights.isEmpty)
        #expect(step.nothingMerged?.contains("global[0] inf; step not applied") == true, "\(step.nothingMerged ?? "")")
    }

    @Test func updatesBeyondTheNormBoundAreRejectedAsBad() throws {
        // Prepare: norms 1, 2 and 1e30; lower median 2, so a 10× bound is 20.
        let updates = [Self.update(0, [1, 0], size: 1), Self.update(1, [0, 2], size: 1), Self.update(2, [1e30, 0], size: 1)]
        let outcome = Outcome(round: 1, sampled: [0, 1, 2], updates: updates, failures: [], rejected: [], timedOut: [], lost: [])
        // Execute
        let step = RoundLogic.merge(outcome, global: [0, 0], optimizer: try ServerOptimizer(spec: .sgd(lr: 1)),
                                    merge: Self.settings(normBound: UpdateNormBound(medianMultiple: 10)))
        // Assert
        #expect(step.rejected.map(\.clientIndex) == [2])
        guard case let .normBeyondBound(norm, bound)? = step.rejected.first?.reason else { Issue.record("\(step.rejected)"); return }
        #expect(abs(norm / 1e30 - 1) < 1e-6 && bound == 20)
        #expect(step.rejected[0].reason.category == "norm beyond bound")
        #expect(step.weights == [0: 0.5, 1: 0.5] && step.global == [0.5, 1])
    }

    @Test func theNormBoundUsesTheLowerMedianAndTheSmallerOfBothBounds() {
        // One huge update of two cannot raise its own bar: the lower median is the small norm.
        #expect(UpdateNormBound(medianMultiple: 10).bound(norms: [1, 1e30]) == 10)
        // A single update, or a round of zero norms, has no relative bound.
        #expect(UpdateNormBound(medianMultiple: 10).bound(norms: [5]) == nil)
        #expect(UpdateNormBound(medianMultiple: 10).bound(norms: [0, 0, 3]) == nil)
        #expect(UpdateNormBound(maxNorm: 4, medianMultiple: 10).bound(norms: [1, 2, 3]) == 4)
        #expect(UpdateNormBound(maxNorm: 40, medianMultiple: 10).bound(norms: [1, 2, 3]) == 20)
    }

    @Test func clippedClientsAreReported() throws {
        let outcome = Outcome(round: 1, sampled: [0, 1], updates: [Self.update(0, [3, 4], size: 1), Self.update(1, [0, 1], size: 1)],
                              failures: [], rejected: [], timedOut: [], lost: [])
        var settings = Self.settings()
        settings.clipNorm = 1
        let step = RoundLogic.merge(outcome, global: [0, 0], optimizer: try ServerOptimizer(spec: .sgd(lr: 1)), merge: settings)
        #expect(step.clipped == [0: 5])
    }
}
