import Foundation
import AviaryData

/// A fixed-width text table of partition statistics with compact bars, for `aviary partition`.
/// Columns: client, samples, entropy (bits), TV distance, a per-class sparkline (height ∝ share of
/// the client's largest class) and a size bar relative to the largest client.
public enum PartitionTable {
    public static func text(_ stats: PartitionStats, maxRows: Int? = nil) -> String {
        let levels: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let barWidth = 20
        var lines: [String] = []
        let labelHeader = "labels 0..\(stats.classes - 1)"
        let sparkWidth = max(stats.classes, labelHeader.count)
        lines.append(pad("client", 7) + pad("samples", 9) + pad("entropy", 9) + pad("TV", 7) + "  "
                     + labelHeader.padding(toLength: sparkWidth, withPad: " ", startingAt: 0) + "  size")
        var shown = stats.clients
        var hidden = 0
        if let maxRows, shown.count > maxRows {
            hidden = shown.count - maxRows
            shown = Array(shown.prefix(maxRows))
        }
        for c in shown {
            let top = max(1, c.labelCounts.max() ?? 1)
            let spark = String(c.labelCounts.map { count -> Character in
                count == 0 ? "·" : levels[max(1, Int((Double(count) / Double(top) * 8).rounded()))]
            })
            let bar = String(repeating: "█", count: stats.maxCount > 0 ? Int((Double(c.count) / Double(stats.maxCount) * Double(barWidth)).rounded()) : 0)
            lines.append(pad("\(c.client)", 7) + pad("\(c.count)", 9) + pad(String(format: "%.2f", c.entropyBits), 9)
                         + pad(String(format: "%.3f", c.totalVariation), 7) + "  "
                         + spark.padding(toLength: sparkWidth, withPad: " ", startingAt: 0) + "  " + bar)
        }
        hidden += stats.clientCount - stats.clients.count
        if hidden > 0 { lines.append("… \(hidden) more clients") }
        lines.append("")
        lines.append("clients \(stats.clientCount), samples \(stats.samples) (dropped \(stats.dropped)), size min/median/max \(stats.minCount)/\(formatMedian(stats.medianCount))/\(stats.maxCount)")
        lines.append(String(format: "mean TV distance %.3f, mean label entropy %.2f bits (uniform: %.2f)",
                            stats.meanTotalVariation, stats.meanEntropyBits, log2(Double(max(1, stats.classes)))))
        for note in stats.notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n") + "\n"
    }

}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

private func formatMedian(_ m: Double) -> String {
    m == m.rounded() ? String(Int(m)) : String(format: "%.1f", m)
}
