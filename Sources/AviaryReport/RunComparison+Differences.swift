import AviaryLog

/// What tells compared runs apart: the configuration keys (`run_start.config`, the resolved
/// topology, defaults included) whose values differ between them. Runs named `quickstart` and
/// `quickstart-2` that differ in `train.proximal_mu` say so in the legend and the table.
extension RunComparison {
    /// Keys that name or place a run rather than define its experiment.
    static let identityKeys: Set<String> = ["run.name", "run.output", "server.bind"]

    /// At most this many differing keys become columns of the printed table; the rest are listed under it.
    static let textColumnsForKeys = 4

    /// The keys whose values differ between the runs, sorted; empty for one run or logs without `config`.
    public var differingKeys: [String] {
        let configs = runs.map { $0.log.runStart?.config ?? [:] }
        guard configs.count > 1 else { return [] }
        let keys = Set(configs.flatMap(\.keys)).subtracting(Self.identityKeys).sorted()
        return keys.filter { k in Set(configs.map { $0[k]?.description ?? "-" }).count > 1 }
    }

    /// Run `i`'s values of `keys` ("-" where its log has no such key).
    func values(of keys: [String], run i: Int) -> [String] {
        let config = runs[i].log.runStart?.config ?? [:]
        return keys.map { config[$0]?.description ?? "-" }
    }

    /// Legend entry for run `i`: its label, then `key=value` for each differing key.
    func legendName(run i: Int, keys: [String]) -> String {
        guard !keys.isEmpty else { return labels[i] }
        return labels[i] + ": " + zip(keys, values(of: keys, run: i)).map { "\($0)=\($1)" }.joined(separator: ", ")
    }
}
