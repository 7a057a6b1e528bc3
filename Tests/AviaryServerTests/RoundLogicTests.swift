import Testing
import AviaryMerge
import AviaryProtocol
import AviaryTransport
@testable import AviaryServer
@testable import AviaryTopology

/// The pure part of a round, on hand-computed numbers: outcome + global + optimiser → new
/// global, weights, and the reason when nothing merged.
@Suite struct RoundLogicTests {
    typealias Outcome = ServerStateMachine<PeerID>.RoundOutcome

    static func settings(_ strategy: AggregationStrategy = .fedavg) -> Topology.MergeSettings {
        Topology.MergeSettings(strategy: strategy, serverOptimizer: .sgd(lr: 1), clipNorm: nil, checkpointMerge: nil)
    }

    static func update(_ client: Int, _ delta: [Float], size: Double, metrics: [String: Double] = [:]) -> UpdateMessage {
        UpdateMessage(round: 1, clientIndex: client, samples: 10, metrics: metrics.merging(["dataset_size": size]) { a, _ in a }, delta: delta)
    }

    @Test func fedAvgWeightsByDatasetSizeAndAppliesTheServerStep() throws {
        // Prepare: sizes 1 and 3, so weights 0.25 and 0.75.
        let outcome = Outcome(round: 1, sampled: [0, 1], updates: [Self.update(0, [4, 0], size: 1), Self.update(1, [0, 4], size: 3)],
                              failures: [], rejected: [], timedOut: [], lost: [])
        // Execute
        let step = RoundLogic.merge(outcome, global: [1, 1], optimizer: try ServerOptimizer(spec: .sgd(lr: 1)), merge: Self.settings())
        // Assert: global + 0.25·[4,0] + 0.75·[0,4] = [2, 4]
        #expect(step.global == [2, 4])
        #expect(step.weights == ["0": 0.25, "1": 0.75])
        #expect(!step.modelKept && step.nothingMerged == nil)
        #expect(abs(step.updateNorm - (1 + 9).squareRoot()) < 1e-6)
    }

    @Test func aRoundWithoutUpdatesKeepsTheModelAndSaysWhy() throws {
        let optimizer = try ServerOptimizer(spec: .sgd(lr: 1))
        let rejected = Outcome(round: 1, sampled: [0, 1], updates: [], failures: [],
                               rejected: [.init(client: 0, reason: "metric train_loss is inf"), .init(client: 1, reason: "metric train_loss is inf")],
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
        let outcome = Outcome(round: 1, sampled: [0], updates: [UpdateMessage(round: 1, clientIndex: 0, samples: 5, metrics: [:], delta: [3])],
                              failures: [], rejected: [], timedOut: [], lost: [])
        let optimizer = try ServerOptimizer(spec: .fedadam(lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        let step = RoundLogic.merge(outcome, global: [1], optimizer: optimizer, merge: Self.settings())
        #expect(step.modelKept && step.global == [1] && step.optimizer == optimizer)
        #expect(step.nothingMerged?.contains("dataset_size") == true, "\(step.nothingMerged ?? "")")
    }
}
