import AviaryData

/// The partition's label distribution, clients (rows) × classes (columns), drawn with the one
/// `Heatmap` the reports use: a cell is the class's share of that client's samples, and a class
/// a client does not hold is left blank. `aviary partition --svg` and the run report both use it.
public enum PartitionHeatmap {
    /// One label histogram per client (row labels are the client indices).
    public static func heatmap(labelHistograms: [[Int]], title: String? = nil) -> Heatmap {
        let classes = labelHistograms.map(\.count).max() ?? 0
        let values: [[Double?]] = labelHistograms.map { h in
            let n = Double(max(1, h.reduce(0, +)))
            return (0..<classes).map { $0 < h.count && h[$0] > 0 ? Double(h[$0]) / n : nil }
        }
        return Heatmap(title: title ?? "Label distribution: \(values.count) clients × \(classes) classes",
                       rowName: "client", columnName: "class",
                       rowLabels: values.indices.map(String.init), columnLabels: (0..<classes).map(String.init),
                       values: values, valueName: "share of the client's samples (blank: class not held)", scale: .sequential(0...1))
    }

    public static func svg(_ stats: PartitionStats) -> String {
        let title = "Label distribution: \(stats.clients.count) clients × \(stats.classes) classes "
            + "(dropped \(stats.dropped), mean TV \(Markup.value(stats.meanTotalVariation)))"
        return heatmap(labelHistograms: stats.clients.map(\.labelCounts), title: title).svg()
    }
}
