import AviaryLog
import AviaryTopology

extension Topology.AttackerSettings {
    /// What `run_start` records about the attackers: read from the topology for the log only;
    /// the server's rounds never look at roles.
    var record: AttackersRecord? {
        guard isActive else { return nil }
        let a = attack
        return AttackersRecord(
            kind: a.kind.rawValue, clients: clients, seed: seed, chosenBy: chosenBy, fraction: fraction,
            scale: a.kind == .signFlip || a.kind == .scale ? Double(a.scale) : nil,
            noiseStd: a.kind == .gaussian ? Double(a.noiseStd) : nil,
            alieZ: a.kind == .alie ? Double(a.alieZ) : nil,
            ipmEpsilon: a.kind == .ipm ? Double(a.ipmEpsilon) : nil)
    }
}
