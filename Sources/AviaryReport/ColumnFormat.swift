import Foundation

/// How every cell of a table column is printed, so a column has one precision top to bottom
/// (`0.0781`, `1.0200`, `1.0000`, never `0.07808`, `1.02`, `1`).
public enum ColumnFormat: Sendable, Equatable {
    case integer
    case fixed(Int)
    /// Fixed decimals with an explicit sign (differences).
    case signed(Int)

    /// Accuracies, losses and other metrics.
    public static let metric = ColumnFormat.fixed(4)
    /// Merge weights.
    public static let weight = ColumnFormat.fixed(3)

    /// The format for a per-client metric column by its key: sizes and counts are integers,
    /// everything else is a 4-decimal metric.
    public static func forMetric(_ key: String) -> ColumnFormat {
        let counts = ["samples", "dataset_size", "steps", "epochs", "batches", "count"]
        return counts.contains { key == $0 || key.hasSuffix("_" + $0) } ? .integer : .metric
    }

    /// `-` when absent, words for non-finite values.
    public func format(_ v: Double?) -> String {
        guard let v else { return "-" }
        guard v.isFinite else { return Markup.value(v) }
        switch self {
        case .integer: return String(format: "%.0f", v)
        case let .fixed(d): return String(format: "%.\(d)f", v)
        case let .signed(d): return String(format: "%+.\(d)f", v)
        }
    }
}
