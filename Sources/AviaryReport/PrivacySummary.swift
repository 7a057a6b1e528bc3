import Foundation
import AviaryLog

/// One line on `run_end.privacy` for `aviary logs` and `aviary report`: under local DP, the
/// per-client ε from the rounds each client took part in (fewest reports, median, most).
enum PrivacySummary {
    static func line(_ p: PrivacyRunEndRecord) -> String? {
        guard p.mode == "local", let groups = p.byReports, !groups.isEmpty else { return nil }
        func f(_ e: Double?) -> String { e.map { String(format: $0 < 100 ? "%.3f" : "%.4g", $0) } ?? "-" }
        func g(_ x: PrivacyRunEndRecord.ReportGroup) -> String {
            "ε \(f(x.epsilon)) (\(plural(x.reports, "round")): \(plural(x.clients, "client")))"
        }
        let total = groups.reduce(0) { $0 + $1.clients }
        // The median client: the group holding the ⌈total/2⌉-th client in report order.
        var seen = 0
        let median = groups.first { seen += $0.clients; return 2 * seen >= total }!
        var parts = [g(groups.first!)]
        if groups.count > 2 { parts.append("median " + g(median)) }
        if groups.count > 1 { parts.append(g(groups.last!)) }
        return "local DP per-client ε at δ = \(p.delta), from the rounds each took part in: \(plural(total, "client")) took part; "
            + parts.joined(separator: " … ")
    }
}
