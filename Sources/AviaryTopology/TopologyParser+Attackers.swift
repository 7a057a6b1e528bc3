import AviaryAdversarial

extension Topology {
    /// `[attackers]`: the kind, who attacks (one of `fraction`, `count` or `clients`) and the
    /// attack's parameters. Every key is read whatever the kind; one that does not apply is a
    /// warning, never an unknown-key error.
    static func parseAttackers(_ t: TableReader, clients total: Int, clientsPerRound: Int,
                               seed: UInt64) throws(TopologyError) -> AttackerSettings {
        let kind = try t.choice("kind", default: ByzantineAttack.Kind.none)
        let fraction = try t.has("fraction") ? t.double("fraction", default: 0, range: 0...1) : nil
        let count = try t.has("count") ? t.int("count", default: 0, range: 0...total) : nil
        let list = try t.intArray("clients")
        let given = [("fraction", fraction != nil), ("count", count != nil), ("clients", list != nil)].filter(\.1).map(\.0)
        if given.count > 1 {
            throw t.invalid(given[1], "(set)", expected: "one of 'fraction', 'count' or 'clients', not both '\(t.key(given[0]))' and '\(t.key(given[1]))'")
        }
        var chosen: [Int] = []
        var chosenBy = "none"
        if let list {
            if let bad = list.first(where: { !(0..<total).contains($0) }) {
                throw t.invalid("clients", "\(bad)", expected: "client indices in 0..<\(total)")
            }
            if Set(list).count != list.count {
                throw t.invalid("clients", "\(list)", expected: "each client at most once")
            }
            chosen = list.sorted(); chosenBy = "clients"
        } else if let n = count {
            chosen = AttackerSettings.choose(count: n, of: total, seed: seed); chosenBy = "count"
        } else if let f = fraction {
            let n = Int((f * Double(total)).rounded())
            chosen = AttackerSettings.choose(count: n, of: total, seed: seed); chosenBy = "fraction"
        }

        let scale = try t.double("scale", default: Double(ByzantineAttack.defaultScale(for: kind)), range: 0...1e6)
        let noiseStd = try t.double("noise_std", default: 1, range: 0...1e6)
        let zGiven = try t.double("alie_z")
        if let z = zGiven, !(z.isFinite && (-100...100).contains(z)) {
            throw t.invalid("alie_z", "\(z)", expected: "a number in -100...100")
        }
        let epsilon = try t.double("ipm_epsilon", default: Double(ByzantineAttack.defaultIPMEpsilon), range: 0...1e6)
        var owners: [String: [ByzantineAttack.Kind]] = ["scale": [.signFlip, .scale], "noise_std": [.gaussian], "alie_z": [.alie],
                                                        "ipm_epsilon": [.ipm]]
        if kind == .none {
            t.ignore(["fraction", "count", "clients"], because: "kind = \"none\": nobody attacks")
            chosen = []
            owners = owners.mapValues { _ in [] }
        }
        for (key, kinds) in owners.sorted(by: { $0.key < $1.key }) where !kinds.contains(kind) {
            let names = kinds.map { "\"\($0.rawValue)\"" }.joined(separator: " and ")
            t.ignore([key], because: names.isEmpty ? "kind = \"none\"" : "it applies to kind = \(names), not \"\(kind.rawValue)\"")
        }

        var z = zGiven ?? 0
        if kind == .alie && zGiven == nil && !chosen.isEmpty {
            let m = AttackerSettings.expectedPerRound(attackers: chosen.count, clients: total, perRound: clientsPerRound)
            guard let zMax = ByzantineAttack.alieZMax(clients: clientsPerRound, attackers: m) else {
                throw t.invalid("alie_z", "(default)", expected: "a value: with \(m) of \(clientsPerRound) clients per round attacking, Baruch et al.'s z_max is unbounded (it needs fewer than ⌊n/2 + 1⌋ attackers)")
            }
            z = zMax
        }
        try t.finish()
        let attack = ByzantineAttack(kind: kind, scale: Float(scale), noiseStd: Float(noiseStd), alieZ: Float(z), ipmEpsilon: Float(epsilon))
        return AttackerSettings(attack: attack, clients: chosen, seed: seed, chosenBy: chosenBy,
                                fraction: chosenBy == "fraction" ? fraction : nil)
    }
}
