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
    public var scale: HeatmapScale
    public var maxPlotWidth: Double
    public var maxPlotHeight: Double

    /// Past this many drawn cells the per-cell tooltips are left out, keeping a 1000-client,
    /// 500-round page to a few megabytes.
    static let tooltipLimit = 20_000

    public init(title: String, rowName: String, columnName: String, rowLabels: [String], columnLabels: [String],
                values: [[Double?]], valueName: String, domain: ClosedRange<Double>? = nil, scale: HeatmapScale? = nil,
                maxPlotWidth: Double = 760, maxPlotHeight: Double = 640) {
        self.title = title; self.rowName = rowName; self.columnName = columnName
        self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.values = values
        self.valueName = valueName; self.scale = scale ?? .sequential(domain)
        self.maxPlotWidth = maxPlotWidth; self.maxPlotHeight = maxPlotHeight
    }

    /// Hatching for blank cells (and their legend swatch), so "none" never reads as a colour.
    static let blankPattern = "<defs><pattern id=\"aviary-blank\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#e4e4e4\" stroke-width=\"1.5\"/></pattern></defs>\n"

    /// The colour of the cell at `column` holding `v`, and the tooltip's extra words.
    private func paint(_ v: Double, column: Int, range: ClosedRange<Double>, spread: Double) -> (color: String, note: String) {
        switch scale {
        case .sequential:
            return (HeatmapScale.sequentialColor(v, in: range), "")
        case let .diverging(centers):
            let center = column < centers.count ? centers[column] : .nan
            let n = center > 0 ? Int((1 / center).rounded()) : 0
            return (HeatmapScale.divergingColor(ratio: v / center, spread: spread), " (\(Markup.value(v / center))× 1/n, n = \(n))")
        }
    }

    public func svg() -> String {
        let rows = rowLabels.count, cols = columnLabels.count
        let finite = values.flatMap { $0.compactMap { $0 } }.filter(\.isFinite)
        var range = 0...max(finite.max() ?? 1, 1e-12)
        var spread = 1.0
        switch scale {
        case let .sequential(domain): range = domain ?? range
        case let .diverging(centers): spread = HeatmapScale.spread(values: values, centers: centers)
        }
        let cellW = min(28, max(1, maxPlotWidth / Double(max(1, cols))))
        let cellH = min(16, max(1, maxPlotHeight / Double(max(1, rows))))
        let fs = PlotFrame.fontSize
        let rowLabelWidth = Markup.textWidth(rowLabels.max { $0.count < $1.count } ?? "", fontSize: fs)
        let left = max(44, rowLabelWidth + 30), top = 30.0
        let plotW = cellW * Double(cols), plotH = cellH * Double(rows)
        let legendY = top + plotH + 46
        let legend = legend(x: left, y: legendY, range: range, spread: spread)
        let width = max(left + plotW + 16, left + Markup.textWidth(title, fontSize: PlotFrame.titleSize) + 16, left + legend.width + 16)
        let height = legendY + legend.height + 8
        let w = Markup.coordinate(width), h = Markup.coordinate(height)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"\(Markup.coordinate(fs))\">\n"
        s += "<title>\(Markup.escape(title))</title>\n<rect width=\"\(w)\" height=\"\(h)\" fill=\"#fff\"/>\n" + Self.blankPattern
        s += "<text x=\"\(Markup.coordinate(left))\" y=\"18\" font-size=\"\(Markup.coordinate(PlotFrame.titleSize))\" font-weight=\"bold\">\(Markup.escape(title))</text>\n"
        s += "<rect x=\"\(Markup.coordinate(left))\" y=\"\(Markup.coordinate(top))\" width=\"\(Markup.coordinate(plotW))\" height=\"\(Markup.coordinate(plotH))\" fill=\"url(#aviary-blank)\"/>\n"
        let drawn = values.reduce(0) { $0 + $1.lazy.filter { $0?.isFinite == true }.count }
        let tooltips = drawn <= Self.tooltipLimit
        for r in 0..<rows {
            for c in 0..<cols {
                guard c < values[r].count, let v = values[r][c], v.isFinite else { continue }
                let cell = paint(v, column: c, range: range, spread: spread)
                s += "<rect x=\"\(Markup.coordinate(left + cellW * Double(c)))\" y=\"\(Markup.coordinate(top + cellH * Double(r)))\" width=\"\(Markup.coordinate(cellW))\" height=\"\(Markup.coordinate(cellH))\" fill=\"\(cell.color)\""
                s += tooltips ? "><title>\(Markup.escape(rowName)) \(Markup.escape(rowLabels[r])), \(Markup.escape(columnName)) \(Markup.escape(columnLabels[c])): \(Markup.value(v))\(cell.note)</title></rect>\n" : "/>\n"
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
        s += legend.markup
        return s + "</svg>\n"
    }

    /// The colour scale: swatches with their values, a hatched "blank" swatch, then `valueName`.
    private func legend(x: Double, y: Double, range: ClosedRange<Double>, spread: Double) -> (markup: String, width: Double, height: Double) {
        let fs = PlotFrame.fontSize, sw = 30.0
        var swatches: [(color: String, label: String)] = []
        switch scale {
        case .sequential:
            swatches = (0..<5).map { i in
                let v = range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / 4
                return (HeatmapScale.sequentialColor(v, in: range), Markup.value(v))
            }
        case .diverging:
            let k = Int(spread)
            swatches = (-k...k).map { p in
                let ratio = pow(2, Double(p))
                return (HeatmapScale.divergingColor(ratio: ratio, spread: spread), p == 0 ? "1/n" : "\(Markup.value(ratio))×")
            }
        }
        swatches.append(("url(#aviary-blank)", "blank"))
        var s = "", cx = x
        for (i, e) in swatches.enumerated() {
            if i == swatches.count - 1 { cx += 8 }
            s += "<rect x=\"\(Markup.coordinate(cx))\" y=\"\(Markup.coordinate(y))\" width=\"\(Markup.coordinate(sw))\" height=\"14\" fill=\"\(e.color)\" stroke=\"#999\" stroke-width=\"0.5\"/>"
            s += "<text x=\"\(Markup.coordinate(cx + sw / 2))\" y=\"\(Markup.coordinate(y + 27))\" text-anchor=\"middle\">\(Markup.escape(e.label))</text>\n"
            cx += sw + 2
        }
        s += "<text x=\"\(Markup.coordinate(cx + 10))\" y=\"\(Markup.coordinate(y + 11))\" fill=\"#444\">\(Markup.escape(valueName))</text>\n"
        return (s, cx + 10 - x + Markup.textWidth(valueName, fontSize: fs), 30)
    }

    /// Show every k-th label so labels `needed` wide do not overlap; k is 1, 2 or 5 × 10^n.
    static func labelStride(needed: Double, cell: Double) -> Int {
        let raw = Int((needed / cell).rounded(.up))
        if raw <= 1 { return 1 }
        return Int(AxisScale.niceStep(Double(raw)).rounded())
    }

    /// The sequential colour (kept for callers that colour outside a heatmap).
    static func color(_ v: Double, in range: ClosedRange<Double>) -> String {
        HeatmapScale.sequentialColor(v, in: range)
    }
}
