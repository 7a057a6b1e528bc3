import Foundation
import AviaryLog
import AviaryMath

/// The end-of-run summary, read back from the run's aggregation.jsonl.
public enum RunSummary {
    public static func lines(logPath: String, wallSeconds: Double, runDirectory dir: String) -> [String] {
        var out: [String] = []
        if let log = try? AggregationLog.read(path: logPath) {
            let evaluated = log.rounds.filter { $0.eval != nil }
            if let best = evaluated.max(by: { $0.eval!.cleanAccuracy < $1.eval!.cleanAccuracy }) {
                out.append(String(format: "best round %d: accuracy %.4f", best.round, best.eval!.cleanAccuracy))
            }
            if let last = evaluated.last, let e = last.eval {
                out.append(String(format: "final (round %d): accuracy %.4f", last.round, e.cleanAccuracy)
                           + (e.robustAccuracy.map { String(format: ", robust accuracy %.4f", $0) } ?? ", robust accuracy not measured"))
            }
            if let end = log.runEnd, let population = population(end) { out.append(population) }
        }
        out.append("wall time " + duration(wallSeconds))
        out.append("report: aviary report \(dir)   (per round: aviary logs \(dir))")
        return out
    }

    /// Which clients the run lost and whether they came back (from `run_end`); nil when none was lost.
    public static func population(_ end: RunEndRecord) -> String? {
        var parts: [String] = []
        if let gone = end.lostClients, !gone.isEmpty { parts.append("clients \(CompactIndices(gone)) lost and not back") }
        if let back = end.returnedClients, !back.isEmpty { parts.append("clients \(CompactIndices(back)) lost and came back") }
        return parts.isEmpty ? nil : "population: " + parts.joined(separator: "; ")
    }

    /// `42.1 s`, `12 min 5 s`, `2 h 3 min`.
    public static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let total = Int(s.rounded())
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \((total % 3600) / 60) min"
    }
}
