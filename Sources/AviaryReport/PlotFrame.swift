import Foundation

/// The shared chrome of a chart: SVG root, title, legend row, plot-area gridlines, axes and
/// their labels. Charts draw their marks into `plot` coordinates between `open` and `close`.
struct PlotFrame {
    var width: Double
    var height: Double
    var title: String
    var xLabel: String
    var yLabel: String
    var legend: [(name: String, color: String, dash: String)]
    var x: AxisScale
    var y: AxisScale

    static let fontSize = 11.0
    static let titleSize = 13.0
    var left: Double { 58 }
    var right: Double { 16 }
    var top: Double { legend.isEmpty ? 30 : 30 + Double(legendRows.count) * 16 }
    var bottom: Double { 42 }
    var plotWidth: Double { width - left - right }
    var plotHeight: Double { height - top - bottom }

    func px(_ v: Double) -> Double { left + x.fraction(v) * plotWidth }
    func py(_ v: Double) -> Double { top + (1 - y.fraction(v)) * plotHeight }

    /// Legend entries wrapped into rows that fit the width.
    var legendRows: [[(name: String, color: String, dash: String, x: Double)]] {
        var rows: [[(name: String, color: String, dash: String, x: Double)]] = [[]]
        var cursor = left
        for e in legend {
            let w = 22 + Markup.textWidth(e.name, fontSize: Self.fontSize) + 14
            if cursor + w > width - right && !rows[rows.count - 1].isEmpty {
                rows.append([]); cursor = left
            }
            rows[rows.count - 1].append((e.name, e.color, e.dash, cursor))
            cursor += w
        }
        return rows
    }

    func open() -> String {
        let w = Markup.coordinate(width), h = Markup.coordinate(height)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"\(Markup.coordinate(Self.fontSize))\">\n"
        s += "<title>\(Markup.escape(title))</title>\n"
        s += "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#fff\"/>\n"
        s += "<text x=\"\(Markup.coordinate(left))\" y=\"18\" font-size=\"\(Markup.coordinate(Self.titleSize))\" font-weight=\"bold\">\(Markup.escape(title))</text>\n"
        for (i, row) in legendRows.enumerated() {
            let ly = 34 + Double(i) * 16
            for e in row {
                let dash = e.dash.isEmpty ? "" : " stroke-dasharray=\"\(e.dash)\""
                s += "<line x1=\"\(Markup.coordinate(e.x))\" y1=\"\(Markup.coordinate(ly - 4))\" x2=\"\(Markup.coordinate(e.x + 18))\" y2=\"\(Markup.coordinate(ly - 4))\" stroke=\"\(e.color)\" stroke-width=\"3\"\(dash)/>"
                s += "<text x=\"\(Markup.coordinate(e.x + 22))\" y=\"\(Markup.coordinate(ly))\">\(Markup.escape(e.name))</text>\n"
            }
        }
        for t in y.ticks {
            let yy = Markup.coordinate(py(t))
            s += "<line x1=\"\(Markup.coordinate(left))\" y1=\"\(yy)\" x2=\"\(Markup.coordinate(left + plotWidth))\" y2=\"\(yy)\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(Markup.coordinate(left - 5))\" y=\"\(Markup.coordinate(py(t) + 4))\" text-anchor=\"end\">\(y.label(t))</text>\n"
        }
        let base = Markup.coordinate(top + plotHeight)
        for t in x.ticks {
            let xx = Markup.coordinate(px(t))
            s += "<line x1=\"\(xx)\" y1=\"\(base)\" x2=\"\(xx)\" y2=\"\(Markup.coordinate(top + plotHeight + 4))\" stroke=\"#666\"/>"
            s += "<text x=\"\(xx)\" y=\"\(Markup.coordinate(top + plotHeight + 16))\" text-anchor=\"middle\">\(x.label(t))</text>\n"
        }
        s += "<text x=\"\(Markup.coordinate(left + plotWidth / 2))\" y=\"\(Markup.coordinate(height - 6))\" text-anchor=\"middle\" fill=\"#444\">\(Markup.escape(xLabel))</text>\n"
        let midY = Markup.coordinate(top + plotHeight / 2)
        s += "<text x=\"14\" y=\"\(midY)\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 14 \(midY))\">\(Markup.escape(yLabel))</text>\n"
        return s
    }

    func close() -> String {
        "<rect x=\"\(Markup.coordinate(left))\" y=\"\(Markup.coordinate(top))\" width=\"\(Markup.coordinate(plotWidth))\" height=\"\(Markup.coordinate(plotHeight))\" fill=\"none\" stroke=\"#888\"/>\n</svg>\n"
    }
}
