import AviaryLog

/// Which keys of a resolved configuration (`run_start.config`) take no effect under the
/// others, and why: the report's configuration table marks them, so `adversarial.attack = pgd`
/// under `adversarial.mode = none` does not read as a setting of the run. Pure.
public enum ConfigEffect {
    /// Key → the setting that switches it off; keys not listed take effect.
    public static func inactive(_ c: [String: ConfigValue]) -> [String: String] {
        var out: [String: String] = [:]
        func mark(_ keys: [String], _ why: String) { for k in keys where c[k] != nil && out[k] == nil { out[k] = why } }
        func v(_ k: String) -> String? { c[k]?.description }

        let adversarial = c.keys.filter { $0.hasPrefix("adversarial.") && $0 != "adversarial.mode" }
        // Per-client overrides inherit the section's keys, so those still matter when any exists.
        let overrides = adversarial.contains { $0.hasPrefix("adversarial.clients[") }
        if v("adversarial.mode") == "none" && !overrides {
            mark(adversarial.sorted(), "adversarial.mode = none")
        }
        if let mode = v("adversarial.mode"), !overrides {
            if mode != "mix" { mark(["adversarial.mix_lambda"], "adversarial.mode = \(mode), not mix") }
            if mode != "trades" { mark(["adversarial.trades_beta"], "adversarial.mode = \(mode), not trades") }
        }
        if v("attackers.kind") == "none" { mark(["seeds.attackers"], "attackers.kind = none") }
        if !c.keys.contains(where: { $0.hasPrefix("system.") }) { mark(["seeds.system"], "no [system] section") }
        if c["security.curve"] == .bool(false) { mark(["security.allow_list", "security.server_secret"], "security.curve = false") }
        return out
    }
}
