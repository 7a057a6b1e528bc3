/// The threat model of an attack: which ball, how large, how it is searched.
public struct AttackSpec: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case fgsm, pgd
        /// APGD on cross-entropy, on the DLR loss, and targeted on the DLR-targeted loss (Croce &
        /// Hein, ICML 2020); evaluation only.
        case apgdCE = "apgd-ce", apgdDLR = "apgd-dlr", apgdT = "apgd-t"
        /// APGD-CE, then APGD-DLR on the samples it did not fool: robust only if robust to both.
        case autoattackLite = "autoattack-lite"

        /// APGD-based attacks score robust accuracy only; training uses FGSM or PGD.
        public var isAPGD: Bool { self != .fgsm && self != .pgd }
    }
    public enum Norm: String, Codable, Sendable, CaseIterable { case linf, l2 }

    public var kind: Kind
    public var norm: Norm
    /// Radius of the ε-ball in the norm above, in input units (images are in [0,1]).
    public var epsilon: Float
    /// Step size α per PGD step (FGSM takes one step of size ε).
    public var stepSize: Float
    /// PGD iterations (FGSM: 1).
    public var steps: Int
    /// Start from a uniform random point in the ball (Madry et al.) rather than from x.
    public var randomStart: Bool
    /// APGD: runs from fresh random starts, each only on the samples not yet fooled.
    public var restarts: Int
    /// APGD-T: target classes, the 2nd … (targets+1)-th largest clean logits (capped at classes − 1).
    public var targets: Int

    public init(kind: Kind = .pgd, norm: Norm = .linf, epsilon: Float = 0.1, stepSize: Float = 0.01,
                steps: Int = 10, randomStart: Bool = true, restarts: Int = 1, targets: Int = 9) {
        self.kind = kind; self.norm = norm; self.epsilon = epsilon; self.stepSize = stepSize
        self.steps = kind == .fgsm ? 1 : steps; self.randomStart = randomStart
        self.restarts = restarts; self.targets = targets
    }

    enum CodingKeys: String, CodingKey { case kind, norm, epsilon, stepSize, steps, randomStart, restarts, targets }

    /// `restarts` and `targets` may be absent (specs written before APGD existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decode(Kind.self, forKey: .kind), norm: try c.decode(Norm.self, forKey: .norm),
                  epsilon: try c.decode(Float.self, forKey: .epsilon), stepSize: try c.decode(Float.self, forKey: .stepSize),
                  steps: try c.decode(Int.self, forKey: .steps), randomStart: try c.decode(Bool.self, forKey: .randomStart),
                  restarts: try c.decodeIfPresent(Int.self, forKey: .restarts) ?? 1,
                  targets: try c.decodeIfPresent(Int.self, forKey: .targets) ?? 9)
    }

    public var summary: String {
        let r = restarts > 1 ? " restarts=\(restarts)" : ""
        switch kind {
        case .fgsm: return "FGSM-\(norm.rawValue) ε=\(epsilon)"
        case .pgd: return "PGD-\(steps)-\(norm.rawValue) ε=\(epsilon) α=\(stepSize)"
        case .apgdCE: return "APGD-CE-\(steps)-\(norm.rawValue) ε=\(epsilon)" + r
        case .apgdDLR: return "APGD-DLR-\(steps)-\(norm.rawValue) ε=\(epsilon)" + r
        case .apgdT: return "APGD-T-\(steps)-\(norm.rawValue) ε=\(epsilon) targets=\(targets)" + r
        case .autoattackLite: return "AutoAttack-lite-\(steps)-\(norm.rawValue) ε=\(epsilon)" + r
        }
    }
}

/// How a client trains locally: the inner loop crafts examples, the outer loop trains on them
/// (federated adversarial learning, Li, Song & Yang, ICML 2023).
public struct AdversarialTrainingSpec: Codable, Sendable, Hashable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Clean training only.
        case none
        /// Madry et al.: train on the adversarial batch.
        case pgd
        /// λ·clean loss + (1−λ)·adversarial loss.
        case mix
        /// Zhang et al.: clean CE + β·KL(f(x) ‖ f(x_adv)), with the KL inner attack.
        case trades
    }

    public var mode: Mode
    public var attack: AttackSpec
    /// λ for `mix`.
    public var mixLambda: Float
    /// β for `trades`.
    public var tradesBeta: Float

    public init(mode: Mode = .none, attack: AttackSpec = AttackSpec(), mixLambda: Float = 0.5, tradesBeta: Float = 6) {
        self.mode = mode; self.attack = attack; self.mixLambda = mixLambda; self.tradesBeta = tradesBeta
    }

    public static let clean = AdversarialTrainingSpec()
}

/// Server-side robust evaluation of the global model.
public struct RobustEvaluationSpec: Codable, Sendable, Hashable {
    public var attack: AttackSpec
    /// Size of the fixed, seeded test subset.
    public var subset: Int
    /// Evaluate every this many rounds (and always after the last).
    public var every: Int

    public init(attack: AttackSpec = AttackSpec(kind: .pgd, norm: .linf, epsilon: 0.1, stepSize: 0.01, steps: 20),
                subset: Int = 1000, every: Int = 1) {
        self.attack = attack; self.subset = subset; self.every = every
    }
}
