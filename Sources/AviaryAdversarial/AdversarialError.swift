/// Why an adversarial training or attack configuration was rejected.
public enum AdversarialError: Error, CustomStringConvertible, Equatable, Sendable {
    /// ε must be finite and ≥ 0.
    case invalidEpsilon(Float)
    /// The PGD step size must be finite and ≥ 0.
    case invalidStepSize(Float)
    /// PGD needs at least one step.
    case invalidSteps(Int)
    /// λ of `mix` must lie in [0, 1].
    case invalidMixLambda(Float)
    /// β of `trades` must be finite and ≥ 0.
    case invalidTradesBeta(Float)
    /// The valid input range must be finite and non-empty.
    case invalidValueRange(lower: Float, upper: Float)
    /// APGD needs at least one run.
    case invalidRestarts(Int)
    /// APGD-T needs at least one target class.
    case invalidTargets(Int)
    /// APGD attacks evaluate; local training crafts its examples with FGSM or PGD.
    case evaluationOnlyAttack(AttackSpec.Kind)
    /// The DLR losses need the 3rd (targeted: 4th) largest logit.
    case tooFewClasses(AttackSpec.Kind, classes: Int, needed: Int)

    public var description: String {
        switch self {
        case let .invalidEpsilon(e):
            return "attack epsilon is \(e), but must be a finite number ≥ 0; set e.g. epsilon = 0.1 (Fashion-MNIST) in the adversarial section"
        case let .invalidStepSize(a):
            return "attack step size is \(a), but must be a finite number ≥ 0; set e.g. step_size = 0.01"
        case let .invalidSteps(k):
            return "PGD steps is \(k), but must be at least 1; set e.g. steps = 10"
        case let .invalidMixLambda(l):
            return "mix lambda is \(l), but must lie in [0, 1] (1 = clean only, 0 = adversarial only)"
        case let .invalidTradesBeta(b):
            return "TRADES beta is \(b), but must be a finite number ≥ 0; Zhang et al. use 6"
        case let .invalidValueRange(lower, upper):
            return "input value range \(lower)...\(upper) is not a finite, non-empty interval; images use 0...1"
        case let .invalidRestarts(r):
            return "APGD restarts is \(r), but must be at least 1; set e.g. restarts = 1"
        case let .invalidTargets(t):
            return "APGD-T targets is \(t), but must be at least 1; set e.g. targets = 9"
        case let .tooFewClasses(kind, classes, needed):
            return "attack '\(kind.rawValue)' needs a model with at least \(needed) classes (its DLR loss uses the \(needed == 4 ? "4th" : "3rd") largest logit), but this one has \(classes); use apgd-ce"
        case let .evaluationOnlyAttack(kind):
            return "attack '\(kind.rawValue)' is for evaluation only; adversarial training uses fgsm or pgd"
        }
    }
}

extension AttackSpec {
    /// Throws the first field that makes the attack meaningless (negative ε, zero steps, …).
    public func validate() throws {
        guard epsilon.isFinite, epsilon >= 0 else { throw AdversarialError.invalidEpsilon(epsilon) }
        guard stepSize.isFinite, stepSize >= 0 else { throw AdversarialError.invalidStepSize(stepSize) }
        guard kind == .fgsm || steps >= 1 else { throw AdversarialError.invalidSteps(steps) }
        guard restarts >= 1 else { throw AdversarialError.invalidRestarts(restarts) }
        guard targets >= 1 else { throw AdversarialError.invalidTargets(targets) }
    }

    /// Throws when the attack's loss is undefined for a model with `classes` outputs.
    public func validate(classes: Int) throws {
        let needed = APGDAttacker.losses(of: kind).map(\.minimumClasses).max() ?? 2
        guard classes >= needed else { throw AdversarialError.tooFewClasses(kind, classes: classes, needed: needed) }
    }

    /// Steps actually taken: FGSM always takes one, whatever `steps` says.
    var effectiveSteps: Int { kind == .fgsm ? 1 : steps }
    /// Step size actually used: FGSM steps the whole radius ε.
    var effectiveStepSize: Float { kind == .fgsm ? epsilon : stepSize }
    /// FGSM (Goodfellow et al. 2015) starts from the clean point; only PGD honours `randomStart`.
    var effectiveRandomStart: Bool { kind == .pgd && randomStart }
}

extension AdversarialTrainingSpec {
    /// Throws the first invalid field (the attack is checked only when a mode uses it).
    public func validate() throws {
        if mode != .none {
            try attack.validate()
            guard !attack.kind.isAPGD else { throw AdversarialError.evaluationOnlyAttack(attack.kind) }
        }
        if mode == .mix { guard mixLambda >= 0, mixLambda <= 1 else { throw AdversarialError.invalidMixLambda(mixLambda) } }
        if mode == .trades { guard tradesBeta.isFinite, tradesBeta >= 0 else { throw AdversarialError.invalidTradesBeta(tradesBeta) } }
    }
}

/// Checks a valid-range argument (nil means unbounded inputs).
func validateValueRange(_ range: ClosedRange<Float>?) throws {
    guard let range else { return }
    guard range.lowerBound.isFinite, range.upperBound.isFinite, range.lowerBound < range.upperBound else {
        throw AdversarialError.invalidValueRange(lower: range.lowerBound, upper: range.upperBound)
    }
}
