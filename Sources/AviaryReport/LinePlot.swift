import Foundation

/// One x/y sample of a line series.
public struct PlotPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// A line chart written as standalone SVG. Non-finite y values break the line (a NaN loss is
/// a gap, not a dive to zero); absent rounds are simply not in the series.
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [PlotPoint]
        /// From `PlotPalette`, so a metric has the same colour in every chart.
        public var color: String
        /// SVG dash pattern; "" = solid.
        public var dash: String
        /// A shaded band around the line (e.g. mean ± std over seeds): x, low, high.
        public var band: [(x: Double, low: Double, high: Double)] = []
        public init(name: String, color: String, points: [PlotPoint], dashed: Bool = false) {
            self.init(name: name, color: color, points: points, dash: dashed ? "5,3" : "")
        }
        public init(name: String, color: String, points: [PlotPoint], dash: String) {
            self.name = name; self.points = points; self.color = color; self.dash = dash
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width: Double
    public var height: Double
    /// Integer x axis (rounds).
    public var integerX: Bool

    public init(title: String, xLabel: String, yLabel: String, series: [Series],
                width: Double = 560, height: Double = 300, integerX: Bool = true) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.width = width; self.height = height; self.integerX = integerX
    }

    /// Markers with hover tooltips are drawn only when a series is short enough to stay legible.
    static let markerLimit = 60

    public func svg() -> String {
        let bandEdges = series.flatMap { line in line.band.flatMap { [PlotPoint(x: $0.x, y: $0.low), PlotPoint(x: $0.x, y: $0.high)] } }
        let all = (series.flatMap(\.points) + bandEdges).filter { $0.x.isFinite && $0.y.isFinite }
        let frame = PlotFrame(
            width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
            legend: series.map { (name: $0.name, color: $0.color, dash: $0.dash) },
            x: AxisScale(covering: all.map(\.x), integer: integerX, targetTicks: 8),
            y: Self.padded(AxisScale(covering: all.map(\.y))))
        var s = frame.open()
        if all.isEmpty {
            s += "<text x=\"\(Markup.coordinate(frame.left + frame.plotWidth / 2))\" y=\"\(Markup.coordinate(frame.top + frame.plotHeight / 2))\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n"
        }
        // Bands first, so every line stays visible on top of every band.
        for line in series where line.band.count > 1 {
            let upper = line.band.map { "\(Markup.coordinate(frame.px($0.x))),\(Markup.coordinate(frame.py($0.high)))" }
            let lower = line.band.reversed().map { "\(Markup.coordinate(frame.px($0.x))),\(Markup.coordinate(frame.py($0.low)))" }
            s += "<polygon fill=\"\(line.color)\" fill-opacity=\"0.18\" stroke=\"none\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
        }
        for line in series {
            let color = line.color
            let dash = line.dash.isEmpty ? "" : " stroke-dasharray=\"\(line.dash)\""
            for segment in Self.segments(line.points) {
                if segment.count == 1 {
                    s += "<circle cx=\"\(Markup.coordinate(frame.px(segment[0].x)))\" cy=\"\(Markup.coordinate(frame.py(segment[0].y)))\" r=\"2.5\" fill=\"\(color)\"/>\n"
                    continue
                }
                let pts = segment.map { "\(Markup.coordinate(frame.px($0.x))),\(Markup.coordinate(frame.py($0.y)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(dash) points=\"\(pts)\"/>\n"
            }
            let finite = line.points.filter { $0.x.isFinite && $0.y.isFinite }
            if finite.count <= Self.markerLimit {
                for p in finite {
                    s += "<circle cx=\"\(Markup.coordinate(frame.px(p.x)))\" cy=\"\(Markup.coordinate(frame.py(p.y)))\" r=\"2\" fill=\"\(color)\"><title>\(Markup.escape(line.name)) at \(Markup.value(p.x)): \(Markup.value(p.y))</title></circle>\n"
                }
            }
        }
        return s + frame.close()
    }

    /// The y scale with 3 % of its range free above and below, so a series lying on a tick at
    /// the domain's edge (a worst-10 % line at 0.0) is drawn inside the frame, not under it.
    static func padded(_ scale: AxisScale) -> AxisScale {
        var s = scale
        let pad = (s.upper - s.lower) * 0.03
        s.lower -= pad
        s.upper += pad
        return s
    }

    /// Runs of consecutive finite points.
    static func segments(_ points: [PlotPoint]) -> [[PlotPoint]] {
        var out: [[PlotPoint]] = []
        var current: [PlotPoint] = []
        for p in points {
            if p.x.isFinite && p.y.isFinite {
                current.append(p)
            } else if !current.isEmpty {
                out.append(current); current = []
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
