import ArgumentParser
import AviaryAdversarial

/// `aviary-client --byzantine KIND …`: every client the process hosts attacks (docs/TOPOLOGY.md,
/// `[attackers]`). The server is not told: attackers speak the same protocol as everyone else.
struct ByzantineOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Make every hosted client a Byzantine attacker: "
                               + ByzantineAttack.Kind.allCases.map(\.rawValue).joined(separator: ", ") + ".",
                               valueName: "kind"))
    var byzantine: String?

    @Option(help: "Multiplier for sign_flip (−scale·Δ; default 1) and scale (scale·Δ; default 10).")
    var byzantineScale: Float?

    @Option(help: "Standard deviation of the gaussian attack's noise (default 1).")
    var byzantineNoiseStd: Float?

    @Option(help: "z of the alie attack: every colluding attacker sends μ − z·σ of their honest deltas (required for alie).")
    var byzantineAlieZ: Float?

    @Option(help: "ε of the ipm attack: every colluding attacker sends −ε·μ of their honest deltas (default 0.5).")
    var byzantineIpmEpsilon: Float?

    /// The attack asked for, or nil for an honest process; errors name the flag.
    func attack() throws -> ByzantineAttack? {
        guard let byzantine else {
            if byzantineScale != nil || byzantineNoiseStd != nil || byzantineAlieZ != nil || byzantineIpmEpsilon != nil {
                throw ValidationError("--byzantine-scale, --byzantine-noise-std, --byzantine-alie-z and --byzantine-ipm-epsilon need --byzantine KIND")
            }
            return nil
        }
        guard let kind = ByzantineAttack.Kind(rawValue: byzantine) else {
            throw ValidationError("--byzantine \(byzantine): expected one of "
                                  + ByzantineAttack.Kind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let scale = byzantineScale ?? ByzantineAttack.defaultScale(for: kind)
        let noise = byzantineNoiseStd ?? 1
        guard scale.isFinite, scale >= 0 else { throw ValidationError("--byzantine-scale \(scale): expected a finite number ≥ 0") }
        guard noise.isFinite, noise >= 0 else { throw ValidationError("--byzantine-noise-std \(noise): expected a finite number ≥ 0") }
        if kind == .alie && byzantineAlieZ == nil {
            throw ValidationError("--byzantine alie needs --byzantine-alie-z Z (aviary run computes Baruch et al.'s z_max from the topology)")
        }
        if let z = byzantineAlieZ, !z.isFinite { throw ValidationError("--byzantine-alie-z \(z): expected a finite number") }
        let epsilon = byzantineIpmEpsilon ?? ByzantineAttack.defaultIPMEpsilon
        guard epsilon.isFinite, epsilon >= 0 else { throw ValidationError("--byzantine-ipm-epsilon \(epsilon): expected a finite number ≥ 0") }
        return ByzantineAttack(kind: kind, scale: scale, noiseStd: noise, alieZ: byzantineAlieZ ?? 0, ipmEpsilon: epsilon)
    }

    /// The flags that ask a client process for `attack` (what `aviary run` passes). Values go
    /// after `=`, so a negative one (z = -0.5) is not read as an option.
    static func arguments(for attack: ByzantineAttack) -> [String] {
        var args = ["--byzantine", attack.kind.rawValue]
        switch attack.kind {
        case .signFlip, .scale: args += ["--byzantine-scale=\(attack.scale)"]
        case .gaussian: args += ["--byzantine-noise-std=\(attack.noiseStd)"]
        case .alie: args += ["--byzantine-alie-z=\(attack.alieZ)"]
        case .ipm: args += ["--byzantine-ipm-epsilon=\(attack.ipmEpsilon)"]
        case .none, .labelFlip: break
        }
        return args
    }
}
