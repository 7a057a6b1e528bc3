import Foundation

/// A rows × columns heatmap as standalone SVG. Absent cells (nil) are left blank so "did not
/// take part" reads differently from "took part with value 0". Cell sizes shrink with the
/// matrix and labels thin out, so 100+ rows stay readable; every cell keeps a hover tooltip.
public struct Heatmap: Sendable {
    public var title: String
    /// What a row / column is ("client", "round"); used in axis labels and tooltips.
    public var rowName: String
    public var columnName: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// `values[row][column]`; nil = no value.
    public var values: [[Double?]]
    /// What the colour means, shown beside the legend.
    public var valueName: String
    /// Colour range; nil = 0…largest value.
    public var domain: ClosedRange<Double>?
    public var maxPlotWidth: Double
    public var maxPlotHeight: Double

    /// Past this many drawn cells the per-cell tooltips are left out, keeping a 1000-client,
    /// 500-round page to a few megabytes.
    static let tooltipLimit = 20_000

    public init(title: String, rowName: String, columnName: String, rowLabels: [String], columnLabels: [String],
                values: [[Double?]], valueName: String, domain: ClosedRange<Double>? = nil,
                maxPlotWidth: Double = 760, maxPlotHeight: Double = 640) {
        self.title = title; self.rowName = rowName; self.columnName = columnName
        self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.values = values
        self.valueName = valueName; self.domain = domain
        self.maxPlotWidth = maxPlotWidth; self.maxPlotHeight = maxPlotHeight
    }

    public func svg() -> String {
        let rows = rowLabels.count, cols = columnLabels.count
        let finite = values.flatMap { $0.compactMap { $0 } }.filter(\.isFinite)
        let range = domain ?? 0...max(finite.max() ?? 1, 1e-12)
        let cellW = min(28, max(1, maxPlotWidth / Double(max(1, cols))))
        let cellH = min(16, max(1, maxPlotHeight / Double(max(1, rows))))
        let fs = PlotFrame.fontSize
        let rowLabelWidth = Markup.textWidth(rowLabels.max { $0.count < $1.count } ?? "", fontSize: fs)
        let left = max(44, rowLabelWidth + 30), top = 30.0
        let plotW = cellW * Double(cols), plotH = cellH * Double(rows)
        let legendY = top + plotH + 46
        let legendWidth = 5 * 24 + 110 + Markup.textWidth(valueName, fontSize: fs)
        let width = max(left + plotW + 16, left + Markup.textWidth(title, fontSize: PlotFrame.titleSize) + 16, left + legendWidth)
        let height = legendY + 24
        let w = Markup.coordinate(width), h = Markup.coordinate(height)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"\(Markup.coordinate(fs))\">\n"
        s += "<title>\(Markup.escape(title))</title>\n<rect width=\"\(w)\" height=\"\(h)\" fill=\"#fff\"/>\n"
        s += "<text x=\"\(Markup.coordinate(left))\" y=\"18\" font-size=\"\(Markup.coordinate(PlotFrame.titleSize))\" font-weight=\"bold\">\(Markup.escape(title))</text>\n"
        s += "<rect x=\"\(Markup.coordinate(left))\" y=\"\(Markup.coordinate(top))\" width=\"\(Markup.coordinate(plotW))\" height=\"\(Markup.coordinate(plotH))\" fill=\"#fafafa\"/>\n"
        let drawn = values.reduce(0) { $0 + $1.lazy.filter { $0?.isFinite == true }.count }
        let tooltips = drawn <= Self.tooltipLimit
        for r in 0..<rows {
            for c in 0..<cols {
                guard c < values[r].count, let v = values[r][c], v.isFinite else { continue }
                s += "<rect x=\"\(Markup.coordinate(left + cellW * Double(c)))\" y=\"\(Markup.coordinate(top + cellH * Double(r)))\" width=\"\(Markup.coordinate(cellW))\" height=\"\(Markup.coordinate(cellH))\" fill=\"\(Self.color(v, in: range))\""
                s += tooltips ? "><title>\(Markup.escape(rowName)) \(Markup.escape(rowLabels[r])), \(Markup.escape(columnName)) \(Markup.escape(columnLabels[c])): \(Markup.value(v))</title></rect>\n" : "/>\n"
            }
        }
        let rowEvery = Self.labelStride(needed: 12, cell: cellH)
        for r in stride(from: 0, to: rows, by: rowEvery) {
            s += "<text x=\"\(Markup.coordinate(left - 4))\" y=\"\(Markup.coordinate(top + cellH * (Double(r) + 0.5) + 4))\" text-anchor=\"end\">\(Markup.escape(rowLabels[r]))</text>\n"
        }
        let colLabelWidth = Markup.textWidth(columnLabels.max { $0.count < $1.count } ?? "", fontSize: fs) + 6
        let colEvery = Self.labelStride(needed: colLabelWidth, cell: cellW)
        for c in stride(from: 0, to: cols, by: colEvery) {
            s += "<text x=\"\(Markup.coordinate(left + cellW * (Double(c) + 0.5)))\" y=\"\(Markup.coordinate(top + plotH + 14))\" text-anchor=\"middle\">\(Markup.escape(columnLabels[c]))</text>\n"
        }
        s += "<rect x=\"\(Markup.coordinate(left))\" y=\"\(Markup.coordinate(top))\" width=\"\(Markup.coordinate(plotW))\" height=\"\(Markup.coordinate(plotH))\" fill=\"none\" stroke=\"#888\"/>\n"
        s += "<text x=\"\(Markup.coordinate(left + plotW / 2))\" y=\"\(Markup.coordinate(top + plotH + 30))\" text-anchor=\"middle\" fill=\"#444\">\(Markup.escape(columnName))</text>\n"
        let midY = Markup.coordinate(top + plotH / 2)
        s += "<text x=\"14\" y=\"\(midY)\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 14 \(midY))\">\(Markup.escape(rowName))</text>\n"
        s += legend(x: left, y: legendY, range: range)
        return s + "</svg>\n"
    }

    private func legend(x: Double, y: Double, range: ClosedRange<Double>) -> String {
        let lowText = Markup.value(range.lowerBound)
        var s = "<text x=\"\(Markup.coordinate(x))\" y=\"\(Markup.coordinate(y + 11))\">\(Markup.escape(lowText))</text>\n"
        var cx = x + Markup.textWidth(lowText, fontSize: PlotFrame.fontSize) + 6
        for i in 0..<5 {
            let v = range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / 4
            s += "<rect x=\"\(Markup.coordinate(cx))\" y=\"\(Markup.coordinate(y))\" width=\"24\" height=\"14\" fill=\"\(Self.color(v, in: range))\"/>\n"
            cx += 24
        }
        let highText = Markup.value(range.upperBound)
        s += "<text x=\"\(Markup.coordinate(cx + 6))\" y=\"\(Markup.coordinate(y + 11))\">\(Markup.escape(highText))</text>\n"
        cx += 6 + Markup.textWidth(highText, fontSize: PlotFrame.fontSize) + 14
        s += "<text x=\"\(Markup.coordinate(cx))\" y=\"\(Markup.coordinate(y + 11))\" fill=\"#444\">\(Markup.escape(valueName))</text>\n"
        return s
    }

    /// Show every k-th label so labels `needed` wide do not overlap; k is 1, 2 or 5 × 10^n.
    static func labelStride(needed: Double, cell: Double) -> Int {
        let raw = Int((needed / cell).rounded(.up))
        if raw <= 1 { return 1 }
        return Int(AxisScale.niceStep(Double(raw)).rounded())
    }

    /// Sequential blue scale; the low end is a visible pale blue so a 0 cell differs from a blank one.
    static func color(_ v: Double, in range: ClosedRange<Double>) -> String {
        let span = range.upperBound - range.lowerBound
        let t = span > 0 ? min(1, max(0, (v - range.lowerBound) / span)) : 1
        let stops: [(Double, Double, Double)] = [(198, 219, 239), (107, 174, 214), (8, 48, 107)]
        let scaled = t * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(scaled)), f = scaled - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
