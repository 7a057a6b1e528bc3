/// What a plotted series measures. Each has one colour, the same in every chart Aviary draws
/// (report, compare), so orange means robust accuracy everywhere.
public enum PlotMetric: String, CaseIterable, Sendable {
    case cleanAccuracy, robustAccuracy, clientMean, worst10, checkpointMerge
    case cleanLoss, updateNorm
    case accepted, rejected, timedOut, failed
}

/// The one colour table for series, keyed by metric, plus the shades and dash patterns that
/// tell runs apart when `aviary compare` draws one metric for several runs.
public enum PlotPalette {
    public static func color(_ metric: PlotMetric) -> String {
        switch metric {
        case .cleanAccuracy: "#1f77b4"    // blue
        case .robustAccuracy: "#ff7f0e"   // orange
        case .clientMean: "#2ca02c"       // green
        case .worst10: "#9467bd"          // purple
        case .checkpointMerge: "#e377c2"  // pink
        case .cleanLoss: "#8c564b"        // brown
        case .updateNorm: "#7f7f7f"       // grey
        case .accepted: "#98df8a"         // pale green
        case .rejected: "#d62728"         // red
        case .timedOut: "#17becf"         // cyan
        case .failed: "#3b3b3b"           // near black
        }
    }

    /// Dash patterns for runs in a comparison ("" = solid), cycled.
    static let dashes = ["", "7,3", "2,2", "9,3,2,3", "4,4"]

    /// The `i`-th of `count` shades of `metric`'s colour: run 0 gets the colour itself, later
    /// runs alternate darker and lighter so neighbours differ, never so light they vanish.
    public static func shade(_ metric: PlotMetric, run i: Int, of count: Int) -> String {
        guard i > 0, count > 1 else { return color(metric) }
        let (r, g, b) = rgb(color(metric))
        let step = Double((i + 1) / 2) / Double(max(1, (count) / 2))
        let darker = i % 2 == 1
        func mix(_ c: Double) -> Int {
            Int((darker ? c * (1 - 0.45 * step) : c + (255 - c) * 0.45 * step).rounded())
        }
        return hex(mix(r), mix(g), mix(b))
    }

    static func rgb(_ hex: String) -> (Double, Double, Double) {
        let v = Int(hex.dropFirst(), radix: 16) ?? 0
        return (Double((v >> 16) & 0xff), Double((v >> 8) & 0xff), Double(v & 0xff))
    }

    static func hex(_ r: Int, _ g: Int, _ b: Int) -> String {
        func clamp(_ x: Int) -> Int { min(255, max(0, x)) }
        return "#" + [r, g, b].map { String(format: "%02x", clamp($0)) }.joined()
    }
}
