/// What a plotted series measures. Each has one colour, the same in every chart Aviary draws
/// (report, compare), so orange means robust accuracy everywhere.
public enum PlotMetric: String, CaseIterable, Sendable {
    case cleanAccuracy, robustAccuracy, clientMean, worst10, checkpointMerge
    case cleanLoss, updateNorm
    case accepted, rejected, timedOut, failed
}

/// The one colour table for series, keyed by metric, plus the hues and dash patterns that
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

    /// Ten hues that stay apart on white (Tableau 10), for the runs of a comparison.
    static let categorical = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                              "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Run `i` of a comparison of `metric`: run 0 in the metric's own colour, the others in
    /// the other categorical hues in order, so neighbours never differ only by shade.
    public static func runColor(_ metric: PlotMetric, run i: Int) -> String {
        let own = color(metric)
        let hues = [own] + categorical.filter { $0 != own }
        return hues[i % hues.count]
    }

    /// Solid for the first round of hues, then a dash pattern per further round of ten runs.
    static func runDash(run i: Int) -> String { dashes[(i / categorical.count) % dashes.count] }

    static func rgb(_ hex: String) -> (Double, Double, Double) {
        let v = Int(hex.dropFirst(), radix: 16) ?? 0
        return (Double((v >> 16) & 0xff), Double((v >> 8) & 0xff), Double(v & 0xff))
    }

    static func hex(_ r: Int, _ g: Int, _ b: Int) -> String {
        func clamp(_ x: Int) -> Int { min(255, max(0, x)) }
        return "#" + [r, g, b].map { String(format: "%02x", clamp($0)) }.joined()
    }
}
