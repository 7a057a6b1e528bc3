import AviaryMath
import AviaryNN

/// TRADES' inner maximisation (Zhang et al. 2019): starting from x + 0.001·N(0, 1), ascend
/// KL(f(x) ‖ f(x_adv)) in the attack's ball. The KL gradient w.r.t. x_adv goes through
/// `forward` and `backward(…, accumulateParameterGradients: false, inputGradient:)`.
/// Unlike the reference code, the noisy start is projected and clamped before the first step,
/// so every iterate, not only the result, lies in the feasible set.
public final class TradesAttacker {
    /// The ball, step size and step count of the search (`randomStart` is replaced by TRADES' start).
    public let attack: AttackSpec
    /// Standard deviation of TRADES' Gaussian start.
    public static let startSigma: Float = 0.001
    let network: Network
    let ball: PerturbationBall
    let gradient: UnsafeMutablePointer<Float>
    let logitsGradient: UnsafeMutablePointer<Float>

    /// The attack must be valid (see `AttackSpec.validate()`); buffers are sized by `network.maxBatch`.
    public init(network: Network, attack: AttackSpec, valueRange: ClosedRange<Float>?) {
        do {
            try attack.validate()
            try validateValueRange(valueRange)
        } catch {
            preconditionFailure("TradesAttacker: \(error)")
        }
        self.network = network
        self.attack = attack
        self.ball = PerturbationBall(norm: attack.norm, epsilon: attack.epsilon, valueRange: valueRange,
                                     features: network.spec.inputCount)
        self.gradient = allocateAlignedFloats(network.maxBatch * network.spec.inputCount)
        self.logitsGradient = allocateAlignedFloats(network.maxBatch * network.spec.classes)
    }

    deinit {
        gradient.deallocate()
        logitsGradient.deallocate()
    }

    /// Writes the KL-maximising examples into `adversarial`; `cleanLogits` (batch × classes)
    /// are f(x) under the current parameters, held fixed during the search.
    public func perturb(inputs: UnsafePointer<Float>, cleanLogits: UnsafePointer<Float>, batch: Int,
                        into adversarial: UnsafeMutablePointer<Float>, rng: inout RandomStream) {
        precondition(batch >= 1 && batch <= network.maxBatch, "perturb: batch \(batch) is outside 1...\(network.maxBatch)")
        let classes = network.spec.classes
        ball.gaussianStart(adversarial: adversarial, clean: inputs, batch: batch, sigma: Self.startSigma, rng: &rng)
        let alpha = attack.effectiveStepSize
        for _ in 0..<attack.effectiveSteps {
            let logits = network.forward(inputs: UnsafePointer(adversarial), batch: batch)
            SoftmaxKL.divergence(cleanLogits: cleanLogits, adversarialLogits: UnsafePointer(logits), batch: batch,
                                 classes: classes, scale: 1 / Float(batch),
                                 adversarialGradient: logitsGradient, cleanGradient: nil)
            network.backward(logitsGradient: UnsafePointer(logitsGradient), batch: batch,
                             accumulateParameterGradients: false, inputGradient: gradient)
            ball.step(adversarial: adversarial, gradient: UnsafePointer(gradient), clean: inputs, batch: batch, stepSize: alpha)
        }
    }
}
