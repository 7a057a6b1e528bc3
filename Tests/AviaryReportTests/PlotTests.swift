import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// The hand-written SVG writers: axis ranges, gaps, coordinates, escaping, determinism.
@Suite struct PlotTests {
    @Test func axisWidensToNiceTicks() {
        let a = AxisScale(covering: [0.21, 0.83])
        #expect(a.lower == 0.2 && abs(a.upper - 1.0) < 1e-12)
        #expect(a.ticks.count == 5)
        #expect(a.ticks.map { a.label($0) } == ["0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func constantSeriesGetsABandAroundIt() {
        let a = AxisScale(covering: [0.5, 0.5, 0.5])
        #expect(a.lower < 0.5 && a.upper > 0.5)
        #expect(abs(a.fraction(0.5) - 0.5) < 1e-9)
        let zero = AxisScale(covering: [0, 0])
        #expect(zero.lower == -1 && zero.upper == 1)
        #expect(zero.ticks.map { zero.label($0) } == ["-1.0", "-0.5", "0.0", "0.5", "1.0"], "no \"-0.0\"")
        let empty = AxisScale(covering: [])
        #expect(empty.lower == 0 && empty.upper == 1)
    }

    @Test func nonFiniteValuesDoNotStretchTheAxis() {
        #expect(AxisScale(covering: [1, .nan, 3, .infinity, -.infinity]) == AxisScale(covering: [1, 3]))
    }

    @Test func integerAndExactAxes() {
        let rounds = AxisScale(covering: [1, 2, 3], integer: true)
        #expect(rounds.ticks.allSatisfy { $0 == $0.rounded() })
        let exact = AxisScale(covering: [0.5, 50.5], integer: true, exact: true, targetTicks: 8)
        #expect(exact.lower == 0.5 && exact.upper == 50.5)
        #expect(exact.ticks == [10, 20, 30, 40, 50])
    }

    @Test func pointsLandWhereHandComputed() {
        // Frame: left 58, right 16, top 30 + one legend row of 16, bottom 42 → plot 486 × 212 at (58, 46).
        // The y domain 0…1 gets 3 % free at each end (−0.03…1.03), so y = 0 sits 6 px above the bottom.
        let plot = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", color: "#123456", points: [.init(x: 0, y: 0), .init(x: 10, y: 1)])])
        #expect(plot.svg().contains("points=\"58,252 544,52\""), "\(plot.svg())")
    }

    @Test func nonFinitePointsBreakTheLine() {
        let ys: [Double] = [1, 2, .nan, 3, 4, .infinity, 5]
        let plot = LinePlot(title: "t", xLabel: "x", yLabel: "y",
                            series: [.init(name: "s", color: "#123456", points: ys.enumerated().map { PlotPoint(x: Double($0.offset), y: $0.element) })])
        let svg = plot.svg()
        let lines = polylines(svg)
        #expect(lines.map(\.count) == [2, 2], "\(lines)")
        // The lone last point is a dot; every finite point also carries a tooltip marker.
        #expect(svg.components(separatedBy: "<circle").count - 1 == 1 + 5)
        #expect(!svg.contains("nan,") && !svg.contains("inf"))
    }

    @Test func textIsEscapedEverywhere() {
        let evil = "a<b & \"c\" 'd'>"
        let escaped = "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        #expect(Markup.escape(evil) == escaped)
        #expect(Markup.escape("x\u{1}y") == "x\u{FFFD}y")
        let line = LinePlot(title: evil, xLabel: evil, yLabel: evil, series: [.init(name: evil, color: "#123456", points: [.init(x: 1, y: 1)])]).svg()
        let heat = Heatmap(title: evil, rowName: evil, columnName: evil, rowLabels: [evil], columnLabels: [evil],
                           values: [[0.5]], valueName: evil).svg()
        let bars = StackedBarPlot(title: evil, xLabel: evil, yLabel: evil, categories: [(evil, "#000")],
                                  bars: [.init(x: 1, values: [2])]).svg()
        for svg in [line, heat, bars] {
            #expect(!svg.contains(evil) && !svg.contains("<b") && !svg.contains("'d'"))
            #expect(svg.contains(escaped))
        }
    }

    @Test func outputIsDeterministic() {
        func make() -> String {
            LinePlot(title: "acc", xLabel: "round", yLabel: "y",
                     series: [.init(name: "a", color: "#123456", points: (1...30).map { PlotPoint(x: Double($0), y: 1 / Double($0)) }),
                              .init(name: "b", color: "#123456", points: [.init(x: 3, y: 0.2)], dashed: true)]).svg()
        }
        #expect(make() == make())
    }

    @Test func heatmapDrawsOnlyPresentCellsWithScaleEnds() {
        let svg = Heatmap(title: "w", rowName: "client", columnName: "round", rowLabels: ["0", "1"], columnLabels: ["1", "2", "3"],
                          values: [[0.25, nil, 1], [nil, .nan, 0]], valueName: "weight", domain: 0...1).svg()
        #expect(svg.components(separatedBy: "</title></rect>").count - 1 == 3)
        #expect(svg.contains("client 0, round 3: 1<"))
        #expect(Heatmap.color(0, in: 0...1) == "#c6dbef")
        #expect(Heatmap.color(1, in: 0...1) == "#08306b")
        #expect(Heatmap.color(7, in: 0...1) == "#08306b")
    }

    @Test func manyRowsThinTheirLabels() {
        let n = 150
        let svg = Heatmap(title: "many", rowName: "client", columnName: "class", rowLabels: (0..<n).map { "c\($0)" },
                          columnLabels: ["0"], values: (0..<n).map { _ in [0.5] }, valueName: "share").svg()
        let labels = svg.components(separatedBy: "text-anchor=\"end\">c").count - 1
        #expect(labels > 10 && labels < n / 2, "\(labels) row labels")
        #expect(Heatmap.labelStride(needed: 30, cell: 10) == 5)
        #expect(Heatmap.labelStride(needed: 8, cell: 10) == 1)
    }

    @Test func hugeHeatmapsDropPerCellTooltips() {
        let rows = Heatmap.tooltipLimit / 100 + 1
        let svg = Heatmap(title: "big", rowName: "client", columnName: "round", rowLabels: (0..<rows).map(String.init),
                          columnLabels: (0..<100).map(String.init), values: Array(repeating: Array(repeating: 0.5, count: 100), count: rows),
                          valueName: "w").svg()
        #expect(svg.components(separatedBy: "<title>").count - 1 == 1, "only the chart's own title")
        #expect(svg.components(separatedBy: "<rect").count - 1 >= rows * 100)
    }

    @Test func stackedBarsStackFromZero() {
        let svg = StackedBarPlot(title: "p", xLabel: "round", yLabel: "clients", categories: [("a", "#111"), ("b", "#222")],
                                 bars: [.init(x: 1, values: [3, 1]), .init(x: 2, values: [4, 0])]).svg()
        #expect(svg.components(separatedBy: "fill=\"#111\"><title>").count - 1 == 2)
        #expect(svg.components(separatedBy: "fill=\"#222\"><title>").count - 1 == 1, "zero-height segments are skipped")
    }
}

/// Points of each `<polyline>` in an SVG, as "x,y" strings.
func polylines(_ svg: String) -> [[String]] {
    svg.components(separatedBy: "<polyline").dropFirst().map { chunk in
        let start = chunk.range(of: "points=\"")!.upperBound
        let rest = chunk[start...]
        return rest[..<rest.firstIndex(of: "\"")!].split(separator: " ").map(String.init)
    }
}
