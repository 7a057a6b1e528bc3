import Foundation

/// A stacked bar chart (one bar per x, one colour per category) as standalone SVG.
public struct StackedBarPlot: Sendable {
    public struct Bar: Sendable {
        public var x: Double
        /// One value per category, in `categories` order; stacked bottom to top.
        public var values: [Double]
        public init(x: Double, values: [Double]) { self.x = x; self.values = values }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var categories: [(name: String, color: String)]
    public var bars: [Bar]
    public var width: Double
    public var height: Double

    public init(title: String, xLabel: String, yLabel: String, categories: [(name: String, color: String)],
                bars: [Bar], width: Double = 560, height: Double = 300) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.categories = categories
        self.bars = bars; self.width = width; self.height = height
    }

    public func svg() -> String {
        let totals = bars.map { $0.values.filter(\.isFinite).reduce(0, +) }
        let xs = bars.map(\.x)
        // Pad the x domain by half a bar so the first and last bars are not cut by the frame.
        let padded = xs.isEmpty ? [] : [xs.min()! - 0.5, xs.max()! + 0.5]
        let frame = PlotFrame(
            width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
            legend: categories.map { (name: $0.name, color: $0.color, dash: "") },
            x: AxisScale(covering: padded, integer: true, exact: true, targetTicks: 8),
            y: AxisScale(covering: totals, includeZero: true, integer: true))
        var s = frame.open()
        let slot = frame.plotWidth / max(1, frame.x.upper - frame.x.lower)
        let barWidth = max(1, slot * 0.8)
        for bar in bars {
            var base = 0.0
            let x0 = frame.px(bar.x) - barWidth / 2
            for (c, v) in bar.values.enumerated() where v.isFinite && v > 0 && c < categories.count {
                let yTop = frame.py(base + v), yBottom = frame.py(base)
                s += "<rect x=\"\(Markup.coordinate(x0))\" y=\"\(Markup.coordinate(yTop))\" width=\"\(Markup.coordinate(barWidth))\" height=\"\(Markup.coordinate(yBottom - yTop))\" fill=\"\(categories[c].color)\"><title>\(Markup.value(bar.x)): \(Markup.escape(categories[c].name)) \(Markup.value(v))</title></rect>\n"
                base += v
            }
        }
        return s + frame.close()
    }
}
