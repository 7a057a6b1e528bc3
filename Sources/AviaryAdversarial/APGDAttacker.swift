import AviaryMath
import AviaryNN

/// Auto-PGD (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an
/// ensemble of diverse parameter-free attacks"): APGD-CE, APGD-DLR, APGD-T and the
/// APGD-CE + APGD-DLR ensemble, as evaluation attacks.
///
/// Every sample keeps its own step size, best point, best loss and checkpoint counters
/// (`APGDSchedule`); the batch goes through the network's forward/backward together. A sample
/// counts as robust only if neither its clean point nor any iterate of any run is misclassified
/// (AutoAttack's bookkeeping); a fooled sample leaves the batch at once, since nothing after
/// can change its verdict. Each restart (and each target class of APGD-T) runs only on the
/// samples still robust. Buffers are sized once by `network.maxBatch`. Not thread-safe.
public final class APGDAttacker {
    /// The threat model and the attack (`kind` must be an APGD kind).
    public let attack: AttackSpec
    let network: Network
    let ball: PerturbationBall
    let classes: Int
    let features: Int
    // Per-slot rows (slot = position in the compacted active batch).
    let clean, current, previous, best, gradient, bestGradient, scratch: UnsafeMutablePointer<Float>
    let cleanLogits, logitsGradient: UnsafeMutablePointer<Float>
    let losses, stepSizes, lastLoss, bestLoss, bestLossAtCheck, stepSizeAtCheck: UnsafeMutablePointer<Float>
    let labels, targets: UnsafeMutablePointer<Int32>
    let increases, origin: UnsafeMutablePointer<Int>
    let fooled: UnsafeMutablePointer<Bool>

    /// The attack must be a valid APGD attack and the loss defined for the model's classes.
    public init(network: Network, attack: AttackSpec, valueRange: ClosedRange<Float>?) {
        do {
            try attack.validate()
            try validateValueRange(valueRange)
        } catch {
            preconditionFailure("APGDAttacker: \(error)")
        }
        precondition(attack.kind.isAPGD, "APGDAttacker: \(attack.kind.rawValue) is not an APGD attack")
        self.network = network
        self.attack = attack
        classes = network.spec.classes
        features = network.spec.inputCount
        for loss in Self.losses(of: attack.kind) {
            precondition(classes >= loss.minimumClasses, "\(attack.summary) needs at least \(loss.minimumClasses) classes, the model has \(classes)")
        }
        ball = PerturbationBall(norm: attack.norm, epsilon: attack.epsilon, valueRange: valueRange, features: features)
        let n = network.maxBatch, d = features
        clean = allocateAlignedFloats(n * d); current = allocateAlignedFloats(n * d); previous = allocateAlignedFloats(n * d)
        best = allocateAlignedFloats(n * d); gradient = allocateAlignedFloats(n * d); bestGradient = allocateAlignedFloats(n * d)
        scratch = allocateAlignedFloats(n * d)
        cleanLogits = allocateAlignedFloats(n * classes); logitsGradient = allocateAlignedFloats(n * classes)
        losses = allocateAlignedFloats(n); stepSizes = allocateAlignedFloats(n); lastLoss = allocateAlignedFloats(n)
        bestLoss = allocateAlignedFloats(n); bestLossAtCheck = allocateAlignedFloats(n); stepSizeAtCheck = allocateAlignedFloats(n)
        labels = .allocate(capacity: n); labels.initialize(repeating: 0, count: n)
        targets = .allocate(capacity: n); targets.initialize(repeating: 0, count: n)
        increases = .allocate(capacity: n); increases.initialize(repeating: 0, count: n)
        origin = .allocate(capacity: n); origin.initialize(repeating: 0, count: n)
        fooled = .allocate(capacity: n); fooled.initialize(repeating: false, count: n)
    }

    deinit {
        for p in [clean, current, previous, best, gradient, bestGradient, scratch, cleanLogits, logitsGradient,
                  losses, stepSizes, lastLoss, bestLoss, bestLossAtCheck, stepSizeAtCheck] { p.deallocate() }
        labels.deallocate(); targets.deallocate(); increases.deallocate(); origin.deallocate(); fooled.deallocate()
    }

    /// The losses an attack kind runs, in order (each `restarts` times; APGD-T's once per target).
    static func losses(of kind: AttackSpec.Kind) -> [APGDLoss] {
        switch kind {
        case .apgdCE: return [.ce]
        case .apgdDLR: return [.dlr]
        case .apgdT: return [.dlrTargeted]
        case .autoattackLite: return [.ce, .dlr]
        case .fgsm, .pgd: return []
        }
    }

    /// The runs of the attack: (loss, target rank — 0 for untargeted). APGD-T targets the
    /// classes of clean-logit ranks 2 … targets + 1, as AutoAttack does.
    var runs: [(loss: APGDLoss, rank: Int)] {
        var result = [(loss: APGDLoss, rank: Int)]()
        for loss in Self.losses(of: attack.kind) {
            let ranks = loss == .dlrTargeted ? Array(2...(min(attack.targets, classes - 1) + 1)) : [0]
            for rank in ranks {
                for _ in 0..<attack.restarts { result.append((loss, rank)) }
            }
        }
        return result
    }

    /// Attacks a batch. `robust[i]` becomes true only if sample i is classified correctly at its
    /// clean point and at every iterate; `adversarial` (batch × inputCount) receives the first
    /// misclassified iterate of fooled samples, the clean point of misclassified ones, and the
    /// best point (by the attack's loss) of the last run for robust ones. `rng` draws the random starts.
    public func perturb(inputs: UnsafePointer<Float>, labels batchLabels: UnsafePointer<Int32>, batch: Int,
                        into adversarial: UnsafeMutablePointer<Float>, robust: UnsafeMutablePointer<Bool>,
                        rng: inout RandomStream) {
        precondition(batch >= 1 && batch <= network.maxBatch, "perturb: batch \(batch) is outside 1...\(network.maxBatch)")
        let d = features
        adversarial.update(from: inputs, count: batch * d)
        network.predictLogits(inputs: inputs, batch: batch, into: cleanLogits)
        for b in 0..<batch { robust[b] = Self.argmax(cleanLogits + b * classes, classes) == Int(batchLabels[b]) }
        for run in runs {
            var n = 0
            for b in 0..<batch where robust[b] {
                origin[n] = b
                labels[n] = batchLabels[b]
                targets[n] = run.rank > 0 ? Int32(APGDLoss.classOfRank(run.rank, logits: cleanLogits + b * classes, classes: classes)) : 0
                (clean + n * d).update(from: inputs + b * d, count: d)
                n += 1
            }
            guard n > 0 else { break }
            singleRun(loss: run.loss, count: n, adversarial: adversarial, robust: robust, rng: &rng)
        }
    }

    /// One APGD run on the `count` samples gathered into the slots.
    func singleRun(loss: APGDLoss, count: Int, adversarial: UnsafeMutablePointer<Float>, robust: UnsafeMutablePointer<Bool>,
                   rng: inout RandomStream) {
        let d = features, steps = attack.steps
        var n = count
        ball.apgdStart(adversarial: current, clean: clean, batch: n, rng: &rng)
        evaluate(loss: loss, batch: n)
        let eta0 = APGDSchedule.initialStepFactor * attack.epsilon
        for s in 0..<n {
            bestLoss[s] = losses[s]; lastLoss[s] = losses[s]; bestLossAtCheck[s] = losses[s]
            stepSizes[s] = eta0; stepSizeAtCheck[s] = eta0; increases[s] = 0
        }
        best.update(from: current, count: n * d)
        bestGradient.update(from: gradient, count: n * d)
        previous.update(from: current, count: n * d)
        n = removeFooled(count: n, adversarial: adversarial, robust: robust)

        var interval = APGDSchedule.intervalParameters(steps: steps).first, sinceCheck = 0
        for k in 0..<steps where n > 0 {
            ball.apgdStep(current: current, previous: previous, gradient: gradient, clean: clean, stepSizes: stepSizes,
                          momentum: k == 0 ? 1 : APGDSchedule.momentum, batch: n, scratch: scratch)
            evaluate(loss: loss, batch: n)
            for s in 0..<n {
                if losses[s] > lastLoss[s] { increases[s] += 1 }
                lastLoss[s] = losses[s]
                if losses[s] > bestLoss[s] {
                    bestLoss[s] = losses[s]
                    (best + s * d).update(from: current + s * d, count: d)
                    (bestGradient + s * d).update(from: gradient + s * d, count: d)
                }
            }
            sinceCheck += 1
            if sinceCheck == interval {
                for s in 0..<n {
                    let halve = APGDSchedule.shouldHalve(increases: increases[s], interval: interval,
                                                         stepSizeUnchanged: stepSizes[s] == stepSizeAtCheck[s],
                                                         bestLossUnchanged: bestLoss[s] == bestLossAtCheck[s])
                    stepSizeAtCheck[s] = stepSizes[s]; bestLossAtCheck[s] = bestLoss[s]; increases[s] = 0
                    guard halve, !fooled[s] else { continue }
                    // Restart from the best point, with its gradient (the momentum term keeps x^(k)).
                    stepSizes[s] /= 2
                    (current + s * d).update(from: best + s * d, count: d)
                    (gradient + s * d).update(from: bestGradient + s * d, count: d)
                }
                interval = APGDSchedule.nextInterval(after: interval, steps: steps)
                sinceCheck = 0
            }
            n = removeFooled(count: n, adversarial: adversarial, robust: robust)
        }
        for s in 0..<n { (adversarial + origin[s] * d).update(from: best + s * d, count: d) }
    }

    /// Loss, ∂loss/∂x and misclassification of the `batch` points in `current`.
    func evaluate(loss: APGDLoss, batch: Int) {
        let logits = network.forward(inputs: UnsafePointer(current), batch: batch)
        for s in 0..<batch { fooled[s] = Self.argmax(logits + s * classes, classes) != Int(labels[s]) }
        loss.evaluate(logits: UnsafePointer(logits), labels: labels, targets: targets, batch: batch, classes: classes,
                      losses: losses, gradient: logitsGradient)
        network.backward(logitsGradient: UnsafePointer(logitsGradient), batch: batch, accumulateParameterGradients: false,
                         inputGradient: gradient)
    }

    /// Records the fooled slots (their current point is the adversarial example) and compacts the
    /// rest, keeping their order; returns the new count.
    func removeFooled(count: Int, adversarial: UnsafeMutablePointer<Float>, robust: UnsafeMutablePointer<Bool>) -> Int {
        let d = features
        var kept = 0
        for s in 0..<count {
            if fooled[s] {
                robust[origin[s]] = false
                (adversarial + origin[s] * d).update(from: current + s * d, count: d)
                continue
            }
            if kept != s {
                func move(_ rows: UnsafeMutablePointer<Float>) { (rows + kept * d).update(from: rows + s * d, count: d) }
                move(clean); move(current); move(previous); move(best); move(gradient); move(bestGradient)
                func move(scalar p: UnsafeMutablePointer<Float>) { p[kept] = p[s] }
                move(scalar: losses); move(scalar: stepSizes); move(scalar: lastLoss)
                move(scalar: bestLoss); move(scalar: bestLossAtCheck); move(scalar: stepSizeAtCheck)
                labels[kept] = labels[s]; targets[kept] = targets[s]; increases[kept] = increases[s]; origin[kept] = origin[s]
                fooled[kept] = false
            }
            kept += 1
        }
        return kept
    }

    /// First index of the largest logit (as SoftmaxCrossEntropy counts accuracy).
    static func argmax(_ z: UnsafePointer<Float>, _ classes: Int) -> Int {
        var best = 0
        for j in 1..<max(classes, 1) where z[j] > z[best] { best = j }
        return best
    }
}
