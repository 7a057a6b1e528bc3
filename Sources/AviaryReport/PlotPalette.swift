/// Categorical colours (Tableau 10), assigned by series index so output is deterministic.
enum PlotPalette {
    static let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static func color(_ i: Int) -> String { colors[i % colors.count] }
}
