import Foundation
import Testing
import AviaryMerge
import AviaryProtocol
@testable import AviaryServer
@testable import AviaryTopology
import AviaryPrivacy

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

    static func secureTopology(noise: Double) throws -> Topology {
        try Topology.parse("""
            [run]
            name = "ps"
            [data]
            dataset = "synthetic"
            clients = 10
            [merge]
            strategy = "fedavg"
            server_lr = 1
            max_update_norm_ratio = 0
            [server]
            clients_per_round = 4
            [privacy]
            mode = "central"
            clip_on = "client"
            clip_norm = 1
            noise_multiplier = \(noise)
            [secagg]
            enabled = true
            quantization_bits = 16
            clipping_range = 1
            """)
    }

    @Test func theSecureSumIsDividedByTheFixedDenominatorAndNoisedForItsSensitivity() throws {
        // Three of n = 4 expected clients survived; SecAgg's mean of their unit-weight updates is
        // [0.3, −0.6], so the sum is [0.9, −1.8] and the DP-FedAvg delta is the sum over 4.
        let report = SecAggRoundReport(verdict: .aggregated(mean: [0.3, -0.6], weightTotal: 3, survivors: [1, 5, 8]),
                                       degree: 3, threshold: 2, participants: 4)
        let outcome = RoundOutcome(round: 2, sampled: [1, 5, 7, 8], updates: [], failures: [], rejected: [], timedOut: [], lost: [7])
        let quiet = PrivateRound(topology: try Self.secureTopology(noise: 0))
        let (step, record) = quiet.mergeSecure(outcome, report: report, state: try Self.state([0, 0]))
        #expect(abs(step.global[0] - 0.225) < 1e-6 && abs(step.global[1] + 0.45) < 1e-6, "\(step.global)")
        #expect(step.weights == [1: 0.25, 5: 0.25, 8: 0.25] && !step.modelKept)
        #expect(record.noiseStd == 0)

        // S′ = S + step·√d with step = 2·1/(2¹⁶ − 1) and d = 2; std = z·S′/n.
        let noisy = PrivateRound(topology: try Self.secureTopology(noise: 1.5))
        let (a, recordA) = noisy.mergeSecure(outcome, report: report, state: try Self.state([0, 0]))
        let (b, _) = noisy.mergeSecure(outcome, report: report, state: try Self.state([0, 0]))
        let sensitivity = 1 + 2.0 / 65535 * 2.0.squareRoot()
        #expect(abs(recordA.noiseStd! - 1.5 * sensitivity / 4) < 1e-15)
        #expect(recordA.epsilon != nil && recordA.epsilon!.isFinite)
        #expect(a.global == b.global && a.global != step.global)  // the round's own noise, drawn again identically
    }

    @Test func aSecureSumOfTheWrongLengthMergesNothing() throws {
        let report = SecAggRoundReport(verdict: .aggregated(mean: [0.3], weightTotal: 3, survivors: [1, 5, 8]), degree: 3, threshold: 2, participants: 4)
        let outcome = RoundOutcome(round: 2, sampled: [1, 5, 7, 8], updates: [], failures: [], rejected: [], timedOut: [], lost: [])
        let (step, _) = PrivateRound(topology: try Self.secureTopology(noise: 0)).mergeSecure(outcome, report: report, state: try Self.state([0, 0]))
        #expect(step.nothingMerged == "the secure sum has 1 values for 2 parameters; noise only")
        #expect(step.weights.isEmpty && step.global == [0, 0])
    }

    @Test func aFailedSecureRoundReleasesNoiseOnly() throws {
        let report = SecAggRoundReport(verdict: .failed("2 survivors, threshold 3"), degree: 3, threshold: 3, participants: 4)
        let outcome = RoundOutcome(round: 3, sampled: [0, 1, 2, 3], updates: [], failures: [], rejected: [], timedOut: [], lost: [2, 3])
        let (step, record) = PrivateRound(topology: try Self.secureTopology(noise: 1)).mergeSecure(outcome, report: report, state: try Self.state([0, 0]))
        #expect(step.nothingMerged?.contains("secure aggregation failed: 2 survivors") == true)
        #expect(step.nothingMerged?.hasSuffix("noise only") == true)
        #expect(step.global != [0, 0] && step.weights.isEmpty)
        #expect(record.noiseStd! > 0)
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

/// Local DP's per-client ε, pure: each client's ε comes from the rounds it reported in (an
/// UPDATE, accepted or rejected, or an answer that never came), not from every round.
@Suite struct LocalPrivateRoundTests {
    static let topology = """
        [run]
        name = "l"
        [data]
        dataset = "synthetic"
        clients = 10
        [merge]
        strategy = "uniform"
        [server]
        clients_per_round = 5
        [privacy]
        mode = "local"
        clip_norm = 1
        noise_multiplier = 4
        delta = 1e-3
        """

    static func outcome(_ round: Int, updates: [Int], rejected: [Int] = [], failed: [Int] = [], timedOut: [Int] = [], lost: [Int] = []) -> RoundOutcome {
        RoundOutcome(round: round, sampled: (updates + rejected + failed + timedOut + lost).sorted(),
                     updates: updates.map { ClientUpdate(clientIndex: $0, samples: 1, metrics: [:], delta: [0]) },
                     failures: failed.map { FailureMessage(round: round, clientIndex: $0, reason: "oom") },
                     rejected: rejected.map { Rejection(clientIndex: $0, reason: .nonFiniteValue(index: 0, value: .nan)) },
                     timedOut: timedOut, lost: lost)
    }

    @Test func eachClientsEpsilonComesFromTheRoundsItReportedIn() throws {
        let round = PrivateRound(topology: try Topology.parse(Self.topology))
        let account = try #require(round.account)
        let e = (1...3).map { account.epsilon(afterRounds: $0) }
        #expect(e[0] < e[1] && e[1] < e[2])
        var ledger = LocalPrivacyLedger()
        // Round 1: 0 and 1 sent updates, 2 was rejected, 3 failed (no delta), 4 timed out, 5 was lost.
        let r1 = round.localRecord(Self.outcome(1, updates: [0, 1], rejected: [2], failed: [3], timedOut: [4], lost: [5]), ledger: &ledger)
        #expect(r1.clientEpsilon == ["0": e[0], "1": e[0], "2": e[0], "4": e[0], "5": e[0]])
        #expect(r1.epsilon == e[0])
        // Round 2: only 0; round 3: 0 and 3.
        let r2 = round.localRecord(Self.outcome(2, updates: [0]), ledger: &ledger)
        #expect(r2.clientEpsilon == ["0": e[1]] && r2.epsilon == e[1])
        let r3 = round.localRecord(Self.outcome(3, updates: [0, 3]), ledger: &ledger)
        #expect(r3.clientEpsilon == ["0": e[2], "3": e[0]] && r3.epsilon == e[2])
        #expect(ledger.reports == [0: 3, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1])

        let end = round.runEnd(rounds: 3, ledger: ledger)
        #expect(end.mode == "local" && end.epsilon == e[2] && end.participants == 6)
        #expect(end.clients == ["0": e[2], "1": e[0], "2": e[0], "3": e[0], "4": e[0], "5": e[0]])
        #expect(end.byReports == [.init(reports: 1, clients: 5, epsilon: e[0]), .init(reports: 3, clients: 1, epsilon: e[2])])
    }

    /// ε of k reports is the Gaussian mechanism's at multiplier z/2 (sensitivity 2S), composed k
    /// times without amplification: RDP kα/(2(z/2)²) = 2kα/z² at order α.
    @Test func oneClientsEpsilonIsTheUnamplifiedGaussianOfItsReports() throws {
        let account = try #require(PrivateRound(topology: try Topology.parse(Self.topology)).account)
        #expect(account.samplingRate == 1 && account.noiseMultiplier == 2)
        let k = 3.0, z = 4.0, delta = 1e-3
        let byHand = SampledGaussianAccountant.defaultOrders.map { a in
            2 * k * a / (z * z) + log1p(-1 / a) - (log(delta) + log(a)) / (a - 1)
        }.min()!
        #expect(abs(account.epsilon(afterRounds: 3) - byHand) < 1e-9)
    }

    @Test func aCentralRunEndCarriesTheFederationsEpsilon() throws {
        let t = try Topology.parse(Self.topology.replacingOccurrences(of: "mode = \"local\"", with: "mode = \"central\""))
        let end = PrivateRound(topology: t).runEnd(rounds: 4, ledger: nil)
        #expect(end.mode == "central" && end.epsilon == t.privacyAccount!.epsilon(afterRounds: 4) && end.clients == nil)
    }
}

/// Adaptive clipping with client-side clipping in the round pipeline: the next round's TRAIN
/// carries S, and S moves by the noised sum of the reported bits with the same rule
/// (`AdaptiveClipping.next`) as server-side adaptive clipping.
@Suite struct ClientSideAdaptivePrivateRoundTests {
    @Test func theClipNormTravelsInTrainAndMovesByTheReportedBits() throws {
        let t = try PrivateRoundTests.topology("clipping = \"adaptive\"\nclip_on = \"client\"\nclip_norm = 1\nnoise_multiplier = 0.5\nclipped_count_stddev = 1")
        let round = PrivateRound(topology: t)
        var state = try PrivateRoundTests.state([0, 0])
        #expect(round.roundConfig(state) == ["clip_norm": 1])
        let key = PrivacySettings.unclippedMetric
        let outcome = RoundOutcome(round: 1, sampled: [0, 1], updates: [
            ClientUpdate(clientIndex: 0, samples: 1, metrics: [key: 0], delta: [0.6, 0.8]),
            ClientUpdate(clientIndex: 1, samples: 1, metrics: [key: 0], delta: [0, 1]),
        ], failures: [], rejected: [], timedOut: [], lost: [])
        let (step, record) = round.merge(outcome, state: &state)
        #expect(step.rejected.isEmpty && record.unclipped == 0)
        let noised = try #require(record.noisedUnclipped)
        let expected = AdaptiveClipping.next(clipNorm: 1, noisedUnclipped: noised, expectedClients: 2, targetQuantile: 0.5, learningRate: 0.2)
        #expect(record.nextClipNorm == expected && state.clipNorm == expected)
        #expect(round.roundConfig(state) == ["clip_norm": expected])
        // Server-side clipping sends nothing.
        let server = PrivateRound(topology: try PrivateRoundTests.topology("clipping = \"adaptive\"\nclip_norm = 1\nnoise_multiplier = 0.5\nclipped_count_stddev = 1"))
        #expect(server.roundConfig(state).isEmpty)
    }
}
