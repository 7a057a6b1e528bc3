import Foundation
import AviaryLog

extension LogTable {
    /// Buffered runs: the line (indented by the caller) under each round's row summarising its server update, e.g.
    /// "v3 at sim 42.1s: 2 updates, staleness mean 0.50 max 1, discount min 0.707; 1 discarded".
    public static func bufferedLine(_ r: RoundRecord) -> String? {
        guard let b = r.system?.buffered else { return nil }
        let present = b.updates.filter { $0.missing == nil }
        var text = String(format: "v%d at %@ %.1fs: %d update%@", b.version, b.clock == "wall" ? "wall" : "sim", b.clockSeconds,
                          present.count, present.count == 1 ? "" : "s")
        if !present.isEmpty {
            let staleness = present.map(\.staleness)
            text += String(format: ", staleness mean %.2f max %d, discount min %.3g",
                           Double(staleness.reduce(0, +)) / Double(staleness.count), staleness.max()!, present.map(\.discount).min()!)
        }
        let missing = b.updates.count - present.count
        if missing > 0 { text += "; \(missing) missing" }
        if let d = b.discarded, !d.isEmpty { text += "; \(d.count) discarded (staleness \(d.map { String($0.staleness) }.joined(separator: ", ")))" }
        return text
    }
}
