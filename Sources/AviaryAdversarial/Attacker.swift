import AviaryMath
import AviaryNN

/// FGSM and PGD on the cross-entropy loss, driven by the engine's input gradient (no weight
/// gradients are computed during attack steps). Owns one preallocated gradient buffer, so
/// `perturb` never allocates. Not thread-safe; it shares the network's buffers.
public final class Attacker {
    /// The threat model this attacker searches.
    public let attack: AttackSpec
    /// Valid input range (nil: unbounded).
    public let valueRange: ClosedRange<Float>?
    let network: Network
    let ball: PerturbationBall
    /// ∂L/∂x of the current iterate (maxBatch × inputCount).
    let gradient: UnsafeMutablePointer<Float>

    /// The attack must be valid (see `AttackSpec.validate()`); buffers are sized by `network.maxBatch`.
    public init(network: Network, attack: AttackSpec, valueRange: ClosedRange<Float>?) {
        do {
            try attack.validate()
            try validateValueRange(valueRange)
            guard !attack.kind.isAPGD else { throw AdversarialError.evaluationOnlyAttack(attack.kind) }
        } catch {
            preconditionFailure("Attacker: \(error) (APGD runs through APGDAttacker)")
        }
        self.network = network
        self.attack = attack
        self.valueRange = valueRange
        self.ball = PerturbationBall(norm: attack.norm, epsilon: attack.epsilon, valueRange: valueRange,
                                     features: network.spec.inputCount)
        self.gradient = allocateAlignedFloats(network.maxBatch * network.spec.inputCount)
    }

    deinit { gradient.deallocate() }

    /// Writes adversarial examples for the batch into `adversarial` (batch × inputCount).
    /// PGD: optional random start, then `steps` × (gradient, ascent step, projection, clamp).
    /// FGSM: one step of size ε from the clean point. `rng` is used only for the random start.
    public func perturb(inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                        into adversarial: UnsafeMutablePointer<Float>, rng: inout RandomStream) {
        precondition(batch >= 1 && batch <= network.maxBatch, "perturb: batch \(batch) is outside 1...\(network.maxBatch)")
        let count = batch * network.spec.inputCount
        if attack.effectiveRandomStart {
            ball.randomStart(adversarial: adversarial, clean: inputs, batch: batch, rng: &rng)
        } else {
            adversarial.update(from: inputs, count: count)
        }
        let alpha = attack.effectiveStepSize
        for _ in 0..<attack.effectiveSteps {
            _ = network.lossAndInputGradient(inputs: UnsafePointer(adversarial), labels: labels, batch: batch,
                                             inputGradient: gradient)
            ball.step(adversarial: adversarial, gradient: UnsafePointer(gradient), clean: inputs, batch: batch, stepSize: alpha)
        }
    }
}
