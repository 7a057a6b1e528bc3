/// `run_start.attackers`: which clients were Byzantine and what they did, for analysis only
/// (the server never reads roles; attackers are ordinary clients on the wire). Absent when
/// nobody attacks.
public struct AttackersRecord: Codable, Sendable, Equatable {
    /// `sign_flip`, `scale`, `gaussian`, `label_flip`, `alie` or `ipm`.
    public var kind: String
    /// Attacker client indices, ascending.
    public var clients: [Int]
    /// `[seeds] attackers` (it chose the clients when given by `fraction` or `count`).
    public var seed: UInt64
    /// How the clients were given: `fraction`, `count` or `clients`.
    public var chosenBy: String
    public var fraction: Double?
    /// The attack's parameters as used: `scale` (sign_flip, scale), `noise_std` (gaussian),
    /// `alie_z` (alie), `ipm_epsilon` (ipm).
    public var scale: Double?
    public var noiseStd: Double?
    public var alieZ: Double?
    public var ipmEpsilon: Double?

    public init(kind: String, clients: [Int], seed: UInt64, chosenBy: String, fraction: Double? = nil,
                scale: Double? = nil, noiseStd: Double? = nil, alieZ: Double? = nil, ipmEpsilon: Double? = nil) {
        self.kind = kind; self.clients = clients; self.seed = seed; self.chosenBy = chosenBy
        self.fraction = fraction; self.scale = scale; self.noiseStd = noiseStd; self.alieZ = alieZ; self.ipmEpsilon = ipmEpsilon
    }
}
