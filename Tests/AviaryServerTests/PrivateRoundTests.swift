import Foundation
import Testing
import AviaryMerge
import AviaryProtocol
@testable import AviaryServer
@testable import AviaryTopology

/// Central DP in the round pipeline, pure: clip → sum over the fixed denominator → noise →
/// server step; a round with no update releases noise only; the same round draws the same noise.
@Suite struct PrivateRoundTests {
    static func topology(_ privacy: String) throws -> Topology {
        try Topology.parse("""
            [run]
            name = "p"
            [data]
            dataset = "synthetic"
            clients = 10
            [merge]
            strategy = "uniform"
            server_lr = 1
            [server]
            clients_per_round = 2
            sampling = "poisson"
            [privacy]
            mode = "central"
            \(privacy)
            """)
    }

    static func state(_ global: [Float]) throws -> ServerModelState {
        ServerModelState(global: global, optimizer: try ServerOptimizer(spec: .sgd(lr: 1)), window: [])
    }

    @Test func clipsAndDividesByTheExpectedClients() throws {
        let round = PrivateRound(topology: try Self.topology("clip_norm = 1\nnoise_multiplier = 0"))
        var state = try Self.state([0, 0])
        let outcome = RoundOutcome(round: 1, sampled: [3], updates: [ClientUpdate(clientIndex: 3, samples: 5, metrics: [:], delta: [3, 4])],
                                   failures: [], rejected: [], timedOut: [], lost: [])
        let (step, record) = round.merge(outcome, state: &state)
        // clip([3,4]) = [0.6, 0.8], over n = 2 expected clients (one answered).
        #expect(abs(step.global[0] - 0.3) < 1e-6 && abs(step.global[1] - 0.4) < 1e-6)
        #expect(step.clipped == [3: 5])
        #expect(record.clipNorm == 1 && record.noiseStd == 0 && record.unclipped == 0)
        #expect(record.epsilon == nil && record.unaccounted != nil)  // z = 0: unbounded
    }

    @Test func aRoundWithoutUpdatesReleasesNoiseOnlyAndTheSameRoundTheSameNoise() throws {
        let round = PrivateRound(topology: try Self.topology("clip_norm = 1\nnoise_multiplier = 1"))
        let empty = RoundOutcome(round: 7, sampled: [], updates: [], failures: [], rejected: [], timedOut: [], lost: [])
        var a = try Self.state([0, 0, 0]), b = try Self.state([0, 0, 0])
        let (stepA, recordA) = round.merge(empty, state: &a)
        let (stepB, _) = round.merge(empty, state: &b)
        #expect(!stepA.modelKept && stepA.global != [0, 0, 0])
        #expect(stepA.nothingMerged?.hasSuffix("noise only") == true)
        #expect(stepA.global == stepB.global)
        #expect(recordA.noiseStd == 0.5)  // z·S/n = 1·1/2
        #expect(recordA.epsilon != nil)
    }

    @Test func adaptiveClippingMovesTheClipNormInTheState() throws {
        let round = PrivateRound(topology: try Self.topology("clipping = \"adaptive\"\nclip_norm = 1\nnoise_multiplier = 0.5\nclipped_count_stddev = 1"))
        var state = try Self.state([0])
        let small = RoundOutcome(round: 1, sampled: [0, 1], updates: [0, 1].map { ClientUpdate(clientIndex: $0, samples: 1, metrics: [:], delta: [0.1]) },
                                 failures: [], rejected: [], timedOut: [], lost: [])
        let (_, record) = round.merge(small, state: &state)
        #expect(record.unclipped == 2)
        #expect(state.clipNorm == record.nextClipNorm && record.nextClipNorm != nil)
        let next = try #require(record.nextClipNorm)
        // exp(−0.2·(b̃ − 0.5)) with b̃ = noised count / 2.
        #expect(abs(next - 1 * exp(-0.2 * (record.noisedUnclipped! / 2 - 0.5))) < 1e-12)
    }
}
