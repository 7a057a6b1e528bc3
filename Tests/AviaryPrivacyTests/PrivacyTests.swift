import Foundation
import Testing
@testable import AviaryPrivacy
import AviaryMath
import AviaryMerge

@Suite struct ClippingTests {
    @Test func clipsToTheBallAndReportsTheNormBefore() {
        var x: [Float] = [3, 4, 0]
        let before = Clipping.clip(&x, to: 1)
        #expect(before == 5)
        #expect(abs(Clipping.norm(x) - 1) < 1e-6)
        let expected: [Float] = [0.6, 0.8, 0]
        #expect(x == expected)
        var small: [Float] = [0.3, 0.4]
        Clipping.clip(&small, to: 1)
        #expect(small == [0.3, 0.4])
    }

    @Test func centralMergeClipsEachUpdateBeforeWeighting() {
        var settings = PrivacySettings()
        settings.mode = .central
        settings.noiseMultiplier = 0
        let updates = [ClientUpdate(clientIndex: 1, samples: 1, metrics: [:], delta: [30, 40]),
                       ClientUpdate(clientIndex: 0, samples: 1, metrics: [:], delta: [0.1, 0])]
        var stream = GaussianNoise.serverStream(seed: 1, round: 1)
        let r = CentralAggregation.merge(updates, parameterCount: 2, strategy: .uniform, settings: settings,
                                         clipNorm: 1, expectedClients: 4, stream: &stream)
        // (clip([30,40]) + [0.1, 0]) / 4 with the fixed denominator n = 4, not the 2 that answered.
        #expect(abs(Double(r.delta[0]) - (0.6 + 0.1) / 4) < 1e-6)
        #expect(abs(Double(r.delta[1]) - 0.8 / 4) < 1e-6)
        #expect(r.clipped == [1: 50])
        #expect(r.unclipped == 1)
        #expect(r.weights == [0: 0.25, 1: 0.25])
    }

    @Test func clientSideClippingRefusesAnUpdateBeyondTheClipNorm() {
        var settings = PrivacySettings()
        settings.mode = .central
        settings.clipOn = .client
        settings.noiseMultiplier = 0
        let updates = [ClientUpdate(clientIndex: 0, samples: 1, metrics: [:], delta: [0.6, 0.8]),
                       ClientUpdate(clientIndex: 1, samples: 1, metrics: [:], delta: [3, 4])]
        var stream = GaussianNoise.serverStream(seed: 1, round: 1)
        let r = CentralAggregation.merge(updates, parameterCount: 2, strategy: .uniform, settings: settings,
                                         clipNorm: 1, expectedClients: 2, stream: &stream)
        #expect(r.rejected.map(\.clientIndex) == [1])
        #expect(r.rejected.first?.reason == .normBeyondBound(norm: 5, bound: 1))
        #expect(r.weights.keys.sorted() == [0])
    }

    @Test func dpMWACapsEveryWeightAtFactorOverN() {
        var settings = PrivacySettings()
        settings.mode = .central
        settings.noiseMultiplier = 0
        settings.maxWeightFactor = 1.5
        // Loss-type MWA with penalty 4: client 0's tiny loss would take almost all the mass.
        let updates = (0..<4).map { i in
            ClientUpdate(clientIndex: i, samples: 10, metrics: ["train_loss": i == 0 ? 0.01 : 1], delta: [1, 0])
        }
        var stream = GaussianNoise.serverStream(seed: 1, round: 1)
        let r = CentralAggregation.merge(updates, parameterCount: 2, strategy: .mwa(MWAConfig(metric: .trainLoss, penalty: 4)),
                                         settings: settings, clipNorm: 10, expectedClients: 4, stream: &stream)
        #expect(r.weights[0] == 1.5 / 4)
        #expect(r.weights.values.allSatisfy { $0 <= 1.5 / 4 })
        #expect(r.noiseStd == 0)
        #expect(CentralAggregation.noiseBound(.mwa(MWAConfig(metric: .trainLoss, penalty: 4)), settings: settings,
                                              expectedClients: 4) == 1.5 / 4)
    }

    @Test func robustStrategiesAreRefusedWithAReason() {
        #expect(CentralAggregation.refusal(for: .median)?.contains("sensitivity") == true)
        #expect(CentralAggregation.refusal(for: .krum(byzantine: 1)) != nil)
        #expect(CentralAggregation.refusal(for: .uniform) == nil)
    }
}

@Suite struct NoiseCalibrationTests {
    /// The noise in the merged delta has std z·S/(q·N): measured over 400,000 coordinates of a
    /// round whose clients send zero deltas, the empirical std is within 2 %.
    @Test func addedNoiseHasStdZSOverQN() {
        let clients = 1_000, q = 0.1, z = 1.2, s = 0.5
        var settings = PrivacySettings()
        settings.mode = .central
        settings.noiseMultiplier = z
        let p = 400_000
        let updates = (0..<97).map { ClientUpdate(clientIndex: $0, samples: 1, metrics: [:], delta: [Float](repeating: 0, count: p)) }
        var stream = GaussianNoise.serverStream(seed: 42, round: 3)
        let r = CentralAggregation.merge(updates, parameterCount: p, strategy: .uniform, settings: settings,
                                         clipNorm: s, expectedClients: q * Double(clients), stream: &stream)
        let mean = r.delta.reduce(0.0) { $0 + Double($1) } / Double(p)
        let variance = r.delta.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(p - 1)
        let expected = z * s / (q * Double(clients))
        #expect(abs(variance.squareRoot() / expected - 1) < 0.02, "std \(variance.squareRoot()) vs \(expected)")
        #expect(abs(r.noiseStd - expected) < 1e-12)
        let meanBound: Double = 8 * expected / Double(p).squareRoot()
        #expect(abs(mean) < meanBound)
    }

    @Test func theSameRoundDrawsTheSameNoise() {
        var a = [Float](repeating: 0, count: 1000), b = a
        var s1 = GaussianNoise.serverStream(seed: 9, round: 5), s2 = GaussianNoise.serverStream(seed: 9, round: 5)
        GaussianNoise.add(to: &a, std: 1, stream: &s1)
        GaussianNoise.add(to: &b, std: 1, stream: &s2)
        #expect(a == b)
        var s3 = GaussianNoise.serverStream(seed: 9, round: 6)
        var c = [Float](repeating: 0, count: 1000)
        GaussianNoise.add(to: &c, std: 1, stream: &s3)
        #expect(a != c)
    }
}

@Suite struct AdaptiveClippingTests {
    /// Andrew et al.'s update by hand: C = 1, 8 of 10 unclipped, γ = 0.5, η = 0.2:
    /// C' = exp(−0.2 · (0.8 − 0.5)) = exp(−0.06) ≈ 0.941765.
    @Test func oneStepByHand() {
        let next = AdaptiveClipping.next(clipNorm: 1, noisedUnclipped: 8, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2)
        #expect(abs(next - 0.9417645335842487) < 1e-12)
        let grow = AdaptiveClipping.next(clipNorm: 2, noisedUnclipped: 1, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2)
        #expect(abs(grow - 2 * exp(0.08)) < 1e-12)
    }

    /// Update norms 1, 2, …, 10 every round: without noise the clip norm settles between the
    /// 5th and 6th norm (the median), from far above and from far below.
    @Test func tracksTheMedianNorm() {
        let norms = (1...10).map(Double.init)
        for start in [0.1, 100.0] {
            var c = start
            for _ in 0..<300 {
                let unclipped = Double(norms.filter { $0 <= c }.count)
                c = AdaptiveClipping.next(clipNorm: c, noisedUnclipped: unclipped, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2)
            }
            #expect(c > 4.5 && c < 6.5, "from \(start): \(c)")
        }
    }

    /// σ_b's share of the budget: z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2).
    @Test func deltaNoiseMultiplierKeepsTheTotal() {
        var s = PrivacySettings()
        s.mode = .central
        s.clipping = .adaptive
        s.noiseMultiplier = 1
        s.clippedCountStddev = 5
        let zd = s.deltaNoiseMultiplier!
        #expect(abs(1 / (zd * zd) + 1 / 100 - 1) < 1e-12)
        s.clippedCountStddev = 0.4
        #expect(s.deltaNoiseMultiplier == nil)
    }
}

@Suite struct AccountantTests {
    /// q = 1 is the plain Gaussian mechanism: RDP(α) = α/(2σ²) per round.
    @Test func fullParticipationIsTheGaussianMechanism() {
        let a = SampledGaussianAccountant(samplingRate: 1, noiseMultiplier: 2, orders: [2, 8, 32])
        let perRound: [Double] = [0.25, 1, 4]
        #expect(a.rdpPerRound == perRound)
        let (eps, order) = a.epsilon(rounds: 10, delta: 1e-5)
        let orders: [Double] = [2, 8, 32]
        var expected = Double.infinity
        for al in orders {
            let e: Double = al * 10 / 8 + log1p(-1 / al) - (log(1e-5) + log(al)) / (al - 1)
            expected = min(expected, e)
        }
        #expect(abs(eps - expected) < 1e-12)
        #expect([2.0, 8, 32].contains(order))
    }

    @Test func subsamplingAmplifiesAndEpsilonGrowsWithRounds() {
        let full = SampledGaussianAccountant(samplingRate: 1, noiseMultiplier: 1)
        let sampled = SampledGaussianAccountant(samplingRate: 0.01, noiseMultiplier: 1)
        #expect(sampled.epsilon(rounds: 100, delta: 1e-5).epsilon < full.epsilon(rounds: 100, delta: 1e-5).epsilon)
        var last = 0.0
        for r in [1, 10, 100, 1000] {
            let e = sampled.epsilon(rounds: r, delta: 1e-5).epsilon
            #expect(e > last)
            last = e
        }
        #expect(SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 0).epsilon(rounds: 1, delta: 1e-5).epsilon == .infinity)
    }

    /// Sampling without replacement (Wang, Balle & Kasiviswanathan 2019): q = 1 is the Gaussian,
    /// q = 0 costs nothing, a smaller sample amplifies, and a fractional order interpolates the
    /// CGF between its integer neighbours. Its agreement with dp-accounting is Tests/Python's.
    @Test func withoutReplacementBound() {
        let orders: [Double] = [2, 2.5, 3, 8, 32]
        let full = SampledGaussianAccountant(samplingRate: 1, noiseMultiplier: 2, sampling: .withoutReplacement, orders: orders)
        #expect(full.rdpPerRound == orders.map { $0 / 8 })
        #expect(SampledGaussianAccountant(samplingRate: 0, noiseMultiplier: 1, sampling: .withoutReplacement).rdpPerRound.allSatisfy { $0 == 0 })
        let small = SampledGaussianAccountant(samplingRate: 0.01, noiseMultiplier: 1, sampling: .withoutReplacement, orders: orders)
        let large = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1, sampling: .withoutReplacement, orders: orders)
        for (s, l) in zip(small.rdpPerRound, large.rdpPerRound) { #expect(s > 0 && s < l) }
        let cgf: [Double] = zip(orders, large.rdpPerRound).map { (a: Double, r: Double) -> Double in (a - 1) * r }
        #expect(abs(cgf[1] - (cgf[0] + cgf[2]) / 2) < 1e-12)
        // Order 2 by hand: log(1 + q²·min(4(e^{1/σ²} − 1), 2e^{1/σ²})), σ = 1, q = 0.1.
        let e: Double = exp(1.0)
        let bound: Double = min(4 * (e - 1), 2 * e)
        let byHand: Double = log(1 + 0.01 * bound)
        #expect(abs(large.rdpPerRound[0] - byHand) < 1e-12)
    }

    /// The signed log-space forward differences of (1, 2⁰, 2¹, 2², …) = (1, 1, 2, 4, …): the odd
    /// ones (1st, 3rd) are 0, the even ones (2nd, 4th) are 1.
    @Test func forwardDifferencesByHand() {
        let d = WithoutReplacementRDP.forwardDifferences({ $0 * log(2.0) }, count: 3)
        #expect(d.count == 5)
        #expect(d[0] == -.infinity && d[2] < -30)  // 0, up to the rounding of log 2
        #expect(abs(d[1]) < 1e-12 && abs(d[3]) < 1e-12)
    }

    @Test func roundsWithinABudget() {
        let a = SampledGaussianAccountant(samplingRate: 0.1, noiseMultiplier: 1)
        let r = a.roundsWithin(epsilon: 3, delta: 1e-5, limit: 100_000)
        #expect(r > 0)
        #expect(a.epsilon(rounds: r, delta: 1e-5).epsilon <= 3)
        #expect(a.epsilon(rounds: r + 1, delta: 1e-5).epsilon > 3)
    }
}

/// Local DP's per-client ledger on a hand example: a client counts once per round it reported.
@Suite struct LocalPrivacyLedgerTests {
    @Test func countsEachClientOncePerRoundAndGroupsByReports() {
        var ledger = LocalPrivacyLedger()
        ledger.add(round: [3, 1, 3])  // 3 listed twice: one report
        ledger.add(round: [1, 7])
        ledger.add(round: [1])
        #expect(ledger.reports == [1: 3, 3: 1, 7: 1])
        #expect(ledger.mostReports == 3)
        #expect(ledger.histogram.map(\.reports) == [1, 3] && ledger.histogram.map(\.clients) == [2, 1])
        #expect(ledger.flattened == [1, 3, 3, 1, 7, 1])
        #expect(LocalPrivacyLedger(flattened: ledger.flattened) == ledger)
        #expect(LocalPrivacyLedger().mostReports == 0 && LocalPrivacyLedger().histogram.isEmpty)
    }

    @Test func refusesAMalformedSavedLedger() {
        #expect(LocalPrivacyLedger(flattened: [1]) == nil)          // not pairs
        #expect(LocalPrivacyLedger(flattened: [1, 0]) == nil)       // zero reports
        #expect(LocalPrivacyLedger(flattened: [-1, 2]) == nil)      // no such client
        #expect(LocalPrivacyLedger(flattened: [2, 1, 2, 3]) == nil) // a client twice
    }
}

/// Adaptive clipping with client-side clipping: the server counts the clients' reported bits
/// b = 1[‖Δ‖ ≤ S] (it cannot tell a clipped delta from one that fit), still refuses a norm
/// beyond S, and refuses an update without a valid bit.
@Suite struct ClientSideAdaptiveClippingTests {
    @Test func theCountIsTheSumOfTheReportedBits() {
        var settings = PrivacySettings()
        settings.mode = .central
        settings.clipping = .adaptive
        settings.clipOn = .client
        settings.noiseMultiplier = 0
        #expect(settings.clientReportsUnclipped)
        let key = PrivacySettings.unclippedMetric
        let updates = [
            ClientUpdate(clientIndex: 0, samples: 1, metrics: [key: 0], delta: [0, 1]),       // clipped by the client to S = 1
            ClientUpdate(clientIndex: 1, samples: 1, metrics: [key: 1], delta: [0.1, 0]),     // fitted
            ClientUpdate(clientIndex: 2, samples: 1, metrics: [key: 1], delta: [0.2, 0]),     // fitted
            ClientUpdate(clientIndex: 3, samples: 1, metrics: [key: 1], delta: [3, 4]),       // beyond S: a bad update
            ClientUpdate(clientIndex: 4, samples: 1, metrics: [:], delta: [0.1, 0]),          // no bit
            ClientUpdate(clientIndex: 5, samples: 1, metrics: [key: 0.5], delta: [0.1, 0]),   // not a bit
        ]
        var stream = GaussianNoise.serverStream(seed: 1, round: 1)
        let r = CentralAggregation.merge(updates, parameterCount: 2, strategy: .uniform, settings: settings,
                                         clipNorm: 1, expectedClients: 4, stream: &stream)
        #expect(r.unclipped == 2)
        #expect(Set(r.weights.keys) == [0, 1, 2])
        #expect(r.rejected.map(\.clientIndex) == [3, 4, 5])
        #expect(r.rejected[0].reason.category == "norm beyond bound")
        #expect(r.rejected[1].reason.description.contains("is missing") && r.rejected[2].reason.description.contains("0.5"))
        #expect(r.clipped.isEmpty)  // the server clipped nothing: the clients did
        // The same merge with server-side clipping counts by the norms it sees.
        settings.clipOn = .server
        #expect(!settings.clientReportsUnclipped)
        var again = GaussianNoise.serverStream(seed: 1, round: 1)
        let server = CentralAggregation.merge(Array(updates.prefix(3)), parameterCount: 2, strategy: .uniform, settings: settings,
                                              clipNorm: 1, expectedClients: 4, stream: &again)
        #expect(server.unclipped == 3)  // ‖(0, 1)‖ = 1 fits
    }
}
