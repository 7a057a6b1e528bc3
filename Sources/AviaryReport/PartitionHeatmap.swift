import AviaryData

/// The partition's label distribution, clients (rows) × classes (columns), drawn with the one
/// `Heatmap` the reports use: a cell is the class's share of that client's samples, and a class
/// a client does not hold is left blank.
public enum PartitionHeatmap {
    public static func svg(_ stats: PartitionStats) -> String {
        let values: [[Double?]] = stats.clients.map { client in
            let n = Double(max(1, client.count))
            return client.labelCounts.map { $0 > 0 ? Double($0) / n : nil }
        }
        let title = "Label distribution: \(stats.clients.count) clients × \(stats.classes) classes "
            + "(dropped \(stats.dropped), mean TV \(Markup.value(stats.meanTotalVariation)))"
        return Heatmap(title: title, rowName: "client", columnName: "class",
                       rowLabels: stats.clients.map { "\($0.client)" },
                       columnLabels: (0..<stats.classes).map { "\($0)" },
                       values: values, valueName: "share of the client's samples", domain: 0...1).svg()
    }
}
