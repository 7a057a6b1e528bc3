import AviaryMath
import AviaryNN
import Foundation
import Testing
@testable import AviaryAdversarial

/// APGD's pieces: the DLR losses and their gradients, the checkpoint schedule, the step-size
/// halving rule, the update's projection, and the attacker's bookkeeping on a tiny model.
@Suite struct APGDTests {
    /// Per-sample loss and logit gradient of one row.
    func lossAndGradient(_ loss: APGDLoss, _ z: [Float], label: Int32, target: Int32 = 0) -> (Float, [Float]) {
        var l: Float = 0, g = [Float](repeating: .nan, count: z.count)
        var y = label, t = target
        loss.evaluate(logits: z, labels: &y, targets: &t, batch: 1, classes: z.count, losses: &l, gradient: &g)
        return (l, g)
    }

    @Test func dlrLossMatchesItsDefinition() {
        // π = (3, 1, 0, 2): z_π1 − z_π3 = 4 − 1 = 3. y = 3 (the top): margin to π2 = 4 − 2 = 2.
        let z: [Float] = [1, 2, 0.5, 4]
        #expect(abs(lossAndGradient(.dlr, z, label: 3).0 - (-2.0 / 3)) < 1e-6)
        // y = 0 (not the top): −(1 − 4)/3 = 1.
        #expect(abs(lossAndGradient(.dlr, z, label: 0).0 - 1) < 1e-6)
        // Targeted, y = 3, t = 0: −(4 − 1)/(4 − (1 + 0.5)/2).
        #expect(abs(lossAndGradient(.dlrTargeted, z, label: 3, target: 0).0 - (-3 / (4 - 0.75))) < 1e-6)
        #expect(abs(lossAndGradient(.ce, z, label: 3).0 - Float(log(exp(1.0) + exp(2) + exp(0.5) + exp(4)) - 4)) < 1e-5)
    }

    @Test(arguments: [APGDLoss.ce, .dlr, .dlrTargeted])
    func gradientMatchesFiniteDifferences(_ loss: APGDLoss) {
        var rng = RandomStream(seed: 11, purpose: .other, index: 0)
        for trial in 0..<20 {
            // Well-separated logits keep the sort (and so the formula) fixed within ±h.
            var z = (0..<10).map { Float($0) * 0.7 + Float(rng.uniform(-0.2, 0.2)) }
            for i in stride(from: 9, to: 0, by: -1) { z.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let label = Int32(trial % 10), target = Int32((trial + 3) % 10)
            let (_, g) = lossAndGradient(loss, z, label: label, target: target)
            let h: Float = 1e-2
            for j in 0..<10 {
                var up = z, down = z
                up[j] += h; down[j] -= h
                let numeric = (lossAndGradient(loss, up, label: label, target: target).0
                               - lossAndGradient(loss, down, label: label, target: target).0) / (2 * h)
                #expect(abs(numeric - g[j]) < 2e-3 + 1e-2 * abs(numeric), "\(loss) trial \(trial) logit \(j): numeric \(numeric), analytic \(g[j])")
            }
        }
    }

    @Test func dlrIsInvariantToShiftAndScaleOfTheLogits() {
        let z: [Float] = [0.3, -1.2, 2.5, 0.9, 1.7]
        let base = lossAndGradient(.dlr, z, label: 3).0
        #expect(abs(lossAndGradient(.dlr, z.map { $0 * 1e4 }, label: 3).0 - base) < 1e-5)
        #expect(abs(lossAndGradient(.dlr, z.map { $0 + 50 }, label: 3).0 - base) < 1e-4)
        let targeted = lossAndGradient(.dlrTargeted, z, label: 3, target: 1).0
        #expect(abs(lossAndGradient(.dlrTargeted, z.map { $0 * 1e4 }, label: 3, target: 1).0 - targeted) < 1e-5)
    }

    @Test func checkpointsFollowThePapersRecursion() {
        // p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06); w_j = ⌈p_j·N⌉.
        var p = [0.0, 0.22]
        while p.last! < 1 { p.append(p[p.count - 1] + max(p[p.count - 1] - p[p.count - 2] - 0.03, 0.06)) }
        let paper = p.dropFirst().map { Int(($0 * 100 - 1e-9).rounded(.up)) }.filter { $0 <= 100 }
        #expect(APGDSchedule.checkpoints(steps: 100) == paper)
        #expect(APGDSchedule.checkpoints(steps: 100) == [22, 41, 57, 70, 80, 87, 93, 99])
        #expect(APGDSchedule.checkpoints(steps: 10) == [2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(APGDSchedule.checkpoints(steps: 1) == [1])
    }

    @Test func stepHalvesOnEitherCondition() {
        // Condition 1: fewer than ρ·interval = 0.75·20 = 15 increases.
        #expect(APGDSchedule.shouldHalve(increases: 14, interval: 20, stepSizeUnchanged: false, bestLossUnchanged: false))
        #expect(!APGDSchedule.shouldHalve(increases: 15, interval: 20, stepSizeUnchanged: false, bestLossUnchanged: false))
        // Condition 2 needs both: η unchanged and the best loss unchanged since the last checkpoint.
        #expect(APGDSchedule.shouldHalve(increases: 20, interval: 20, stepSizeUnchanged: true, bestLossUnchanged: true))
        #expect(!APGDSchedule.shouldHalve(increases: 20, interval: 20, stepSizeUnchanged: true, bestLossUnchanged: false))
        #expect(!APGDSchedule.shouldHalve(increases: 20, interval: 20, stepSizeUnchanged: false, bestLossUnchanged: true))
    }

    @Test func linfStepIsTheMomentumUpdateProjected() {
        // d = 3, ε = 0.1, η = 0.2, α = 0.75, box [0, 1].
        let ball = PerturbationBall(norm: .linf, epsilon: 0.1, valueRange: 0...1, features: 3)
        let clean: [Float] = [0.5, 0.5, 0.95]
        var current: [Float] = [0.55, 0.45, 0.95], previous: [Float] = [0.6, 0.4, 0.9]
        let gradient: [Float] = [1, -1, 1], eta: [Float] = [0.2]
        var scratch = [Float](repeating: 0, count: 3)
        ball.apgdStep(current: &current, previous: &previous, gradient: gradient, clean: clean, stepSizes: eta,
                      momentum: 0.75, batch: 1, scratch: &scratch)
        // z = P(x + 0.2·sign g) = (0.6, 0.4, 1.0); x + 0.75(z − x) + 0.25(x − x_prev) = (0.575, 0.425, 1.0125),
        // whose last coordinate the box clamps to 1.
        #expect(maxAbsDifference(current, [0.575, 0.425, 1.0]) < 1e-6)
        #expect(maxAbsDifference(previous, [0.55, 0.45, 0.95]) < 1e-6)
    }

    @Test(arguments: AttackSpec.Norm.allCases)
    func stepsAndStartsStayInTheBallAndBox(_ norm: AttackSpec.Norm) {
        let d = 50, batch = 4, eps: Float = norm == .linf ? 0.1 : 0.8
        let ball = PerturbationBall(norm: norm, epsilon: eps, valueRange: 0...1, features: d)
        var rng = RandomStream(seed: 3, purpose: .other, index: 0)
        let clean = (0..<(batch * d)).map { _ in rng.nextFloat() < 0.2 ? Float(0) : rng.nextFloat() }
        var current = [Float](repeating: 0, count: batch * d), scratch = current
        ball.apgdStart(adversarial: &current, clean: clean, batch: batch, rng: &rng)
        var previous = current
        let eta = [Float](repeating: 2 * eps, count: batch)
        func check(_ what: String) {
            for b in 0..<batch {
                let delta = (0..<d).map { current[b * d + $0] - clean[b * d + $0] }
                let size = norm == .linf ? delta.map(abs).max()! : delta.map { $0 * $0 }.reduce(0, +).squareRoot()
                #expect(size <= eps * (1 + 1e-5) + 1e-6, "\(what): sample \(b) moved \(size) > ε = \(eps)")
                #expect(current[(b * d)..<((b + 1) * d)].allSatisfy { $0 >= 0 && $0 <= 1 }, "\(what): left the box")
            }
        }
        check("start")
        for k in 0..<10 {
            let gradient = (0..<(batch * d)).map { _ in Float(rng.normal()) }
            ball.apgdStep(current: &current, previous: &previous, gradient: gradient, clean: clean, stepSizes: eta,
                          momentum: k == 0 ? 1 : 0.75, batch: batch, scratch: &scratch)
            check("step \(k)")
        }
    }

    @Test func attackerIsDeterministicAndCountsEverMisclassified() throws {
        let data = SyntheticData(samples: 64, inputs: 12, classes: 4, seed: 5)
        let net = try makeNetwork(.mlp(inputs: 12, hidden: [16], classes: 4), maxBatch: 64)
        for epoch in 0..<30 {
            _ = trainEpoch(network: net, features: data.features, labels: data.labels, batchSize: 16, shuffleSeed: 2, epoch: epoch)
        }
        for kind in [AttackSpec.Kind.apgdCE, .apgdDLR, .apgdT, .autoattackLite] {
            let spec = AttackSpec(kind: kind, epsilon: 0.15, steps: 20, restarts: 2, targets: 3)
            func run(seed: UInt64) -> ([Bool], [Float]) {
                let attacker = APGDAttacker(network: net, attack: spec, valueRange: 0...1)
                var robust = [Bool](repeating: true, count: 64), adv = [Float](repeating: .nan, count: 64 * 12)
                var rng = RandomStream(seed: seed, purpose: .attack, index: 0)
                attacker.perturb(inputs: data.features, labels: data.labels, batch: 64, into: &adv, robust: &robust, rng: &rng)
                return (robust, adv)
            }
            let (robust, adv) = run(seed: 1)
            let again = run(seed: 1)
            #expect(robust == again.0 && adv == again.1, "\(kind): same seed, same result")
            var logits = [Float](repeating: 0, count: 64 * 4), cleanLogits = logits
            net.predictLogits(inputs: adv, batch: 64, into: &logits)
            net.predictLogits(inputs: data.features, batch: 64, into: &cleanLogits)
            for s in 0..<64 {
                let cleanCorrect = APGDAttacker.argmax(Array(cleanLogits[(s * 4)..<(s * 4 + 4)]), 4) == Int(data.labels[s])
                let advCorrect = APGDAttacker.argmax(Array(logits[(s * 4)..<(s * 4 + 4)]), 4) == Int(data.labels[s])
                // Robust ⇒ correct clean; not robust ⇒ the returned point is misclassified (clean or adversarial).
                if robust[s] { #expect(cleanCorrect, "\(kind): sample \(s) is robust but misclassified clean") }
                else { #expect(!advCorrect, "\(kind): sample \(s) is fooled but its returned point is classified correctly") }
                let delta = (0..<12).map { abs(adv[s * 12 + $0] - data.features[s * 12 + $0]) }.max()!
                #expect(delta <= 0.15 + 1e-6)
            }
            #expect(robust.contains(false), "\(kind): ε = 0.15 should fool some sample of a small model")
        }
    }

    @Test func evaluationOnlyAndClassCountsAreChecked() throws {
        let apgd = AttackSpec(kind: .apgdCE, epsilon: 0.1, steps: 100)
        #expect(throws: AdversarialError.evaluationOnlyAttack(.apgdCE)) {
            try AdversarialTrainingSpec(mode: .pgd, attack: apgd).validate()
        }
        #expect(throws: AdversarialError.tooFewClasses(.apgdDLR, classes: 2, needed: 3)) {
            try AttackSpec(kind: .apgdDLR).validate(classes: 2)
        }
        #expect(throws: AdversarialError.tooFewClasses(.apgdT, classes: 3, needed: 4)) {
            try AttackSpec(kind: .apgdT).validate(classes: 3)
        }
        try AttackSpec(kind: .apgdCE).validate(classes: 2)
        #expect(throws: AdversarialError.invalidRestarts(0)) { try AttackSpec(kind: .apgdCE, restarts: 0).validate() }
    }

    @Test func specsWithoutRestartsStillDecode() throws {
        let old = #"{"kind":"pgd","norm":"linf","epsilon":0.1,"stepSize":0.01,"steps":10,"randomStart":true}"#
        let spec = try JSONDecoder().decode(AttackSpec.self, from: Data(old.utf8))
        #expect(spec == AttackSpec(kind: .pgd, epsilon: 0.1, stepSize: 0.01, steps: 10))
        let apgd = AttackSpec(kind: .apgdT, steps: 50, restarts: 2, targets: 4)
        #expect(try JSONDecoder().decode(AttackSpec.self, from: JSONEncoder().encode(apgd)) == apgd)
    }
}
