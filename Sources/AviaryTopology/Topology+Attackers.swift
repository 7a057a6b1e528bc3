import AviaryAdversarial
import AviaryMath

extension Topology {
    /// Which clients are Byzantine and what they do (`[attackers]`). Only the launcher and the
    /// log read this: attackers run in their own client processes started with
    /// `aviary-client --byzantine …`, and the server never uses roles (it records them in
    /// `run_start` for analysis).
    public struct AttackerSettings: Sendable, Hashable {
        public var attack: ByzantineAttack
        /// Attacker client indices, ascending; empty when nobody attacks.
        public var clients: [Int]
        /// `[seeds] attackers`: drives the choice of clients for `fraction` / `count`.
        public var seed: UInt64
        /// How the clients were given: "fraction", "count", "clients" or "none".
        public var chosenBy: String
        /// `fraction` as written (nil unless chosen by fraction).
        public var fraction: Double?

        public static func none(seed: UInt64) -> AttackerSettings {
            AttackerSettings(attack: ByzantineAttack(kind: .none), clients: [], seed: seed, chosenBy: "none", fraction: nil)
        }

        /// True when some client attacks.
        public var isActive: Bool { attack.kind != .none && !clients.isEmpty }

        /// `count` clients of `0..<total`, chosen by `seed` alone (a seeded permutation's prefix,
        /// sorted): the same seed always names the same clients.
        public static func choose(count: Int, of total: Int, seed: UInt64) -> [Int] {
            precondition(count >= 0 && count <= total, "cannot choose \(count) of \(total) clients")
            var stream = RandomStream(seed: seed, purpose: .other, index: 0x4259_5A)  // "BYZ"
            return stream.permutation(total).prefix(count).sorted()
        }

        /// The attackers a round of n sampled clients holds on average, at least 1: the m of
        /// ALIE's default z_max.
        public static func expectedPerRound(attackers: Int, clients: Int, perRound: Int) -> Int {
            guard attackers > 0 else { return 0 }
            return max(1, Int((Double(attackers) * Double(perRound) / Double(clients)).rounded()))
        }
    }
}
