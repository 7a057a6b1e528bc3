import Foundation
import Testing
import AviaryAdversarial
import AviaryMath

/// Each Byzantine attack on hand-computed updates.
@Suite struct ByzantineAttackTests {
    var noise = RandomStream(seed: 1)

    @Test func signFlipNegatesAndScales() {
        var n = noise
        #expect(ByzantineAttack(kind: .signFlip).apply(to: [1, -2, 0.5], noise: &n) == [-1, 2, -0.5])
        #expect(ByzantineAttack(kind: .signFlip, scale: 4).apply(to: [1, -2, 0.5], noise: &n) == [-4, 8, -2])
    }

    @Test func scaleBoosts() {
        var n = noise
        #expect(ByzantineAttack(kind: .scale, scale: 10).apply(to: [0.1, -0.25, 0], noise: &n) == [1, -2.5, 0])
        #expect(ByzantineAttack.defaultScale(for: .scale) == 10)
        #expect(ByzantineAttack.defaultScale(for: .signFlip) == 1)
    }

    @Test func honestKindsKeepTheDelta() {
        var n = noise
        for kind in [ByzantineAttack.Kind.none, .labelFlip, .alie, .ipm] {
            #expect(ByzantineAttack(kind: kind).apply(to: [1, 2, 3], noise: &n) == [1, 2, 3])
        }
    }

    @Test func gaussianReplacesTheDeltaWithSeededNoise() {
        let attack = ByzantineAttack(kind: .gaussian, noiseStd: 0.5)
        let delta = [Float](repeating: 7, count: 20_000)
        var a = ByzantineAttack.noiseStream(trainingSeed: 3, client: 5, round: 2)
        let x = attack.apply(to: delta, noise: &a)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let std = (x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)).squareRoot()
        // The honest delta (all 7) is gone: mean 0, std σ, within a few standard errors.
        #expect(abs(mean) < 0.02, "mean \(mean)")
        #expect(abs(std - 0.5) < 0.02, "std \(std)")
        // The same client and round give the same noise; another client or round another.
        var b = ByzantineAttack.noiseStream(trainingSeed: 3, client: 5, round: 2)
        #expect(attack.apply(to: delta, noise: &b) == x)
        var c = ByzantineAttack.noiseStream(trainingSeed: 3, client: 6, round: 2)
        var d = ByzantineAttack.noiseStream(trainingSeed: 3, client: 5, round: 3)
        #expect(attack.apply(to: delta, noise: &c) != x)
        #expect(attack.apply(to: delta, noise: &d) != x)
    }

    @Test func alieSendsMeanMinusZSigma() {
        // Coordinate 0: 1, 2, 3 → μ 2, σ √(2/3); coordinate 1: 0, 0, 6 → μ 2, σ √8;
        // coordinate 2: all 5 → σ 0.
        let deltas: [[Float]] = [[1, 0, 5], [2, 0, 5], [3, 6, 5]]
        let out = ByzantineAttack.alie(deltas, z: 1.5)
        let expected: [Double] = [2 - 1.5 * (2.0 / 3).squareRoot(), 2 - 1.5 * 8.0.squareRoot(), 5]
        for j in 0..<3 { #expect(abs(Double(out[j]) - expected[j]) < 1e-6, "coordinate \(j): \(out[j])") }
        // One colluder has no spread to hide in: it sends its honest delta.
        #expect(ByzantineAttack.alie([[1, -2]], z: 3) == [1, -2])
        // The order the deltas come in does not change the result beyond rounding.
        let reversed = ByzantineAttack.alie(deltas.reversed(), z: 1.5)
        for j in 0..<3 { #expect(abs(reversed[j] - out[j]) < 1e-6) }
    }

    @Test func ipmSendsMinusEpsilonTimesTheColludersMean() throws {
        // Means 2, 2, 5 (as in the ALIE test); ε = 0.5 → −1, −1, −2.5.
        let deltas: [[Float]] = [[1, 0, 5], [2, 0, 5], [3, 6, 5]]
        #expect(ByzantineAttack.ipm(deltas, epsilon: 0.5) == [-1, -1, -2.5])
        let attack = ByzantineAttack(kind: .ipm, ipmEpsilon: 0.5)
        #expect(attack.isCollusive && attack.colluding(deltas) == [-1, -1, -2.5])
        // The inner product with the honest mean is −ε‖μ‖² < 0: the point of the attack.
        let mu: [Float] = [2, 2, 5], sent = attack.colluding(deltas)
        #expect(zip(mu, sent).reduce(0) { $0 + $1.0 * $1.1 } < 0)
        #expect(ByzantineAttack.ipm([], epsilon: 1).isEmpty)
        #expect(attack.summary == "ipm epsilon=0.5" && ByzantineAttack(kind: .alie).isCollusive)
        // An encoding without ipmEpsilon (an older client's) decodes with the default.
        let old = #"{"kind":"alie","scale":1,"noiseStd":1,"alieZ":0.25}"#
        let decoded = try JSONDecoder().decode(ByzantineAttack.self, from: Data(old.utf8))
        #expect(decoded.alieZ == 0.25 && decoded.ipmEpsilon == ByzantineAttack.defaultIPMEpsilon)
        #expect(try JSONDecoder().decode(ByzantineAttack.self, from: JSONEncoder().encode(attack)) == attack)
    }

    @Test func alieZMaxFollowsBaruchEtAl() throws {
        // n = 10, m = 3: s = ⌊6⌋ − 3 = 3, Φ⁻¹(7/10) = 0.5244.
        #expect(abs(try #require(ByzantineAttack.alieZMax(clients: 10, attackers: 3)) - 0.524_400_5) < 1e-6)
        // n = 50, m = 24: s = 2, Φ⁻¹(0.96) = 1.7507.
        #expect(abs(try #require(ByzantineAttack.alieZMax(clients: 50, attackers: 24)) - 1.750_686_1) < 1e-6)
        // n = 10, m = 1: s = 5, Φ⁻¹(0.5) = 0.
        #expect(try #require(ByzantineAttack.alieZMax(clients: 10, attackers: 1)).sign == .plus)
        #expect(ByzantineAttack.alieZMax(clients: 10, attackers: 1) == 0)
        // Six of ten: nothing bounds z.
        #expect(ByzantineAttack.alieZMax(clients: 10, attackers: 6) == nil)
        #expect(abs(ByzantineAttack.inverseNormalCDF(0.975) - 1.959_964) < 1e-6)
    }

    @Test func labelFlipMapsYToCMinusOneMinusY() {
        let view = SampleView(features: [0, 1, 2, 3, 4, 5, 6, 7], labels: [0, 3, 9, 4], width: 2)
        let flipped = ByzantineAttack.flippingLabels(view.selecting([2, 0]), classes: 10)
        #expect(flipped.materialisedLabels() == [0, 9])
        #expect(flipped.materialisedFeatures() == [4, 5, 0, 1])
        #expect(ByzantineAttack.flippingLabels(view, classes: 10).materialisedLabels() == [9, 6, 0, 5])
    }
}
