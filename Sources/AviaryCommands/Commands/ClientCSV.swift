import AviaryLog

/// `aviary logs --clients --csv`: the log in long format, one row per (round, sampled client),
/// for pandas and R. Columns are documented in docs/LOG.md.
enum ClientCSV {
    /// Leading columns; then every other client metric in the log (sorted), then `traffic`, weight, status, reason.
    static let leading = ["round", "client", "samples", "dataset_size"]
    /// The client's protocol bytes this round (the round's `client_traffic`); empty in logs without it.
    static let traffic = ["bytes_up", "bytes_down"]

    /// Every metric name any client reported, except the leading ones, sorted.
    static func metricNames(_ log: AggregationLog) -> [String] {
        var names = Set<String>()
        for r in log.rounds { for m in r.clientMetrics.values { names.formUnion(m.keys) } }
        return names.subtracting(leading + traffic).sorted()
    }

    /// Local DP logs (`privacy.client_epsilon`) get an `epsilon` column: the client's ε so far.
    static func hasClientEpsilon(_ log: AggregationLog) -> Bool { log.rounds.contains { $0.privacy?.clientEpsilon != nil } }

    static func header(_ log: AggregationLog) -> String {
        (leading + metricNames(log) + traffic + (hasClientEpsilon(log) ? ["epsilon"] : []) + ["weight", "status", "reason"]).joined(separator: ",")
    }

    /// What happened to `client` in round `r`, and why when the log says (a fallback merge rule
    /// is the reason of an accepted client).
    static func status(of client: Int, in r: RoundRecord) -> (status: String, reason: String) {
        if r.accepted.contains(client) {
            return ("accepted", r.fallbacks?.first { $0.client == client }?.reason ?? "")
        }
        if let x = r.rejected.first(where: { $0.client == client }) { return ("rejected", x.reason) }
        if let x = r.failed.first(where: { $0.client == client }) { return ("failed", x.reason) }
        if r.timedOut.contains(client) { return ("timed_out", "") }
        if r.lost?.contains(client) == true { return ("lost", "") }
        if r.system?.stragglers.contains(client) == true { return ("straggler", "missed the simulated round close") }
        return ("", "")
    }

    static func csv(_ log: AggregationLog, round: Int? = nil) -> String {
        let names = metricNames(log)
        let counts = log.runStart?.partitionStats?.counts
        let epsilon = hasClientEpsilon(log)
        var out = header(log) + "\n"
        for r in log.rounds where round == nil || r.round == round {
            for client in r.sampled {
                let m = r.clientMetrics[String(client)] ?? [:]
                // A client that never answered still has a partition: its size from run_start.
                let size = m["dataset_size"] ?? counts.flatMap { client < $0.count ? Double($0[client]) : nil }
                let (status, reason) = status(of: client, in: r)
                var fields = [String(r.round), String(client), number(m["samples"]), number(size)]
                fields += names.map { number(m[$0]) }
                let bytes = r.clientTraffic?[String(client)]
                fields += [number(bytes.map { Double($0.bytesUp) }), number(bytes.map { Double($0.bytesDown) })]
                if epsilon { fields.append(number(r.privacy?.clientEpsilon?[String(client)])) }
                fields += [number(r.weights[String(client)]), status, quoted(reason)]
                out += fields.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    /// Whole numbers without a trailing `.0` (counts stay integers in pandas); empty when absent.
    static func number(_ x: Double?) -> String {
        guard let x else { return "" }
        if x.isFinite && x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return String(x)
    }

    /// RFC 4180 quoting when the field needs it.
    static func quoted(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
