import AviaryAdversarial

/// `--attack` values of `aviary eval`: `pgd:eps=0.1,steps=40,step=0.01`, `fgsm:eps=0.1`,
/// `apgd-ce:eps=0.1,steps=100,restarts=1`, `apgd-dlr:…`, `apgd-t:…,targets=9`, `autoattack-lite:…`,
/// with `norm=l2` allowed; the keys and defaults of the topology's `[evaluation]` table.
enum EvalAttack {
    enum ParseError: Error, CustomStringConvertible {
        case unknownKind(spec: String, kind: String)
        case badPair(spec: String, pair: String)
        case unknownKey(spec: String, key: String, kind: String)
        case badValue(spec: String, key: String, value: String, expected: String)
        case weak(spec: String, reach: Double, epsilon: Float)

        var description: String {
            switch self {
            case let .unknownKind(spec, kind):
                return "--attack \(spec): unknown attack '\(kind)'; use " + AttackSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    + ", e.g. pgd:eps=0.1,steps=40,step=0.01 or apgd-ce:eps=0.1"
            case let .badPair(spec, pair):
                return "--attack \(spec): '\(pair)' is not key=value"
            case let .unknownKey(spec, key, kind):
                return "--attack \(spec): unknown key '\(key)' for \(kind); use " + EvalAttack.keys(kind)
            case let .badValue(spec, key, value, expected):
                return "--attack \(spec): \(key) = '\(value)', expected \(expected)"
            case let .weak(spec, reach, epsilon):
                return "--attack \(spec): steps × step = \(reach) < eps = \(epsilon): the attack cannot reach the ε-ball's boundary and would overstate robust accuracy; raise steps or step (e.g. steps × step ≥ 2.5 eps), or pass --allow-weak"
            }
        }
    }

    static func keys(_ kind: String) -> String {
        switch AttackSpec.Kind(rawValue: kind) {
        case .fgsm: return "eps, norm"
        case .pgd: return "eps, steps, step, norm, random_start"
        case .apgdT: return "eps, steps, restarts, targets, norm"
        default: return "eps, steps, restarts, norm"
        }
    }

    /// Parses one `--attack` value; a PGD that cannot reach ε is refused unless `allowWeak`
    /// (APGD needs no such check: its step starts at 2ε).
    static func parse(_ spec: String, allowWeak: Bool) throws(ParseError) -> AttackSpec {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let kindName = parts.first?.lowercased() ?? ""
        guard let kind = AttackSpec.Kind(rawValue: kindName) else { throw .unknownKind(spec: spec, kind: kindName) }
        var attack = AttackSpec(kind: kind, steps: kind.isAPGD ? 100 : 20)
        let pairs = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
        for pair in pairs {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { throw .badPair(spec: spec, pair: pair) }
            let (key, value) = (kv[0], kv[1])
            func number(_ range: ClosedRange<Double>) throws(ParseError) -> Double {
                guard let d = Double(value), d.isFinite, range.contains(d) else {
                    throw .badValue(spec: spec, key: key, value: value, expected: "a number in \(range)")
                }
                return d
            }
            func whole(_ range: ClosedRange<Int>) throws(ParseError) -> Int {
                guard let k = Int(value), range.contains(k) else {
                    throw .badValue(spec: spec, key: key, value: value, expected: "a whole number in \(range)")
                }
                return k
            }
            switch (key, kind) {
            case ("eps", _), ("epsilon", _): attack.epsilon = Float(try number(0...100))
            case ("norm", _):
                guard let n = AttackSpec.Norm(rawValue: value) else {
                    throw .badValue(spec: spec, key: key, value: value, expected: "linf or l2")
                }
                attack.norm = n
            case ("steps", .pgd), ("steps", .apgdCE), ("steps", .apgdDLR), ("steps", .apgdT), ("steps", .autoattackLite):
                attack.steps = try whole(1...10_000)
            case ("restarts", .apgdCE), ("restarts", .apgdDLR), ("restarts", .apgdT), ("restarts", .autoattackLite):
                attack.restarts = try whole(1...100)
            case ("targets", .apgdT): attack.targets = try whole(1...1000)
            case ("step", .pgd), ("step_size", .pgd): attack.stepSize = Float(try number(0...100))
            case ("random_start", .pgd):
                guard let b = Bool(value) else { throw .badValue(spec: spec, key: key, value: value, expected: "true or false") }
                attack.randomStart = b
            default: throw .unknownKey(spec: spec, key: key, kind: kind.rawValue)
            }
        }
        if kind == .pgd && !allowWeak {
            // The same rule as `[evaluation]`'s allow_weak_attack.
            let reach = Double(attack.steps) * Double(attack.stepSize)
            if reach < Double(attack.epsilon) * (1 - 1e-5) { throw .weak(spec: spec, reach: reach, epsilon: attack.epsilon) }
        }
        return attack
    }
}
