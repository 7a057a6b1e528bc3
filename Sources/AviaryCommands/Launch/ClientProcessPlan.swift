import AviaryTopology

/// Which client processes `aviary run` starts and what each hosts. Without attackers: process p
/// of N hosts `--shard p/N`. With `[attackers]`, the attacker clients leave the honest shares
/// (`--exclude`) and run in processes of their own, started with `--byzantine …`, so that one
/// process holds all colluders of a round (ALIE estimates from them). Pure.
struct ClientProcessPlan: Equatable {
    var arguments: [String]
    var clients: [Int]
    /// `[processes] command` for processes that are not aviary-client (they get the same
    /// arguments after the command's own); nil: aviary-client.
    var command: [String]? = nil

    /// Attackers per process at most, so a `--clients` list stays well inside one command-line
    /// argument (Linux allows 128 KiB); beyond that ALIE colludes within each process.
    static let attackersPerProcess = 10_000

    static func plans(for topology: Topology) -> [ClientProcessPlan] {
        let total = topology.data.clients
        let n = topology.processes.totalClientProcesses
        let attackers = topology.attackers
        // Processes clientProcesses..<n run `[processes] command`.
        func command(_ p: Int) -> [String]? { p >= topology.processes.clientProcesses ? topology.processes.command : nil }
        guard attackers.isActive else {
            return (0..<n).map { p in
                ClientProcessPlan(arguments: ["--shard", "\(p)/\(n)", "--of", String(total)],
                                  clients: ClientSet.shard(p, of: n, clients: total), command: command(p))
            }
        }
        let bad = Set(attackers.clients)
        var plans: [ClientProcessPlan] = []
        for p in 0..<n {
            let share = ClientSet.shard(p, of: n, clients: total)
            let excluded = share.filter { bad.contains($0) }
            let honest = share.filter { !bad.contains($0) }
            guard !honest.isEmpty else { continue }
            var args = ["--shard", "\(p)/\(n)", "--of", String(total)]
            if !excluded.isEmpty { args += ["--exclude", list(excluded)] }
            plans.append(ClientProcessPlan(arguments: args, clients: honest, command: command(p)))
        }
        let byzantine = ByzantineOptions.arguments(for: attackers.attack)
        for start in stride(from: 0, to: attackers.clients.count, by: attackersPerProcess) {
            let chunk = Array(attackers.clients[start..<min(start + attackersPerProcess, attackers.clients.count)])
            plans.append(ClientProcessPlan(arguments: ["--clients", list(chunk)] + byzantine, clients: chunk))
        }
        return plans
    }

    /// Ascending indices as `--clients` reads them, runs as ranges: `0-3,7,9-10`.
    static func list(_ indices: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < indices.count {
            var j = i
            while j + 1 < indices.count && indices[j + 1] == indices[j] + 1 { j += 1 }
            parts.append(j > i ? "\(indices[i])-\(indices[j])" : "\(indices[i])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
