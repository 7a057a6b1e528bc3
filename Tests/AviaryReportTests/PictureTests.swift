import Foundation
import Testing
@testable import AviaryReport
import AviaryData
import AviaryLog

/// What every picture shares: an opaque background, a legend or colour scale, titled axes, one
/// colour per metric, merge weights on a scale centred on 1/n, and tables with one precision a column.
@Suite struct PictureTests {
    static func report(_ log: AggregationLog = ReportTests.log()) -> RunReport { RunReport(log: log, source: "s") }

    static func comparison(_ metric: ComparisonMetric) -> RunComparison {
        RunComparison(runs: [.init(path: "a", log: ReportTests.log(name: "a")), .init(path: "b", log: ReportTests.log(name: "b", rounds: 3))],
                      metric: metric)
    }

    /// Every SVG the report, the comparison and `aviary partition` write.
    static func allSVGs() -> [String] {
        let r = report()
        let stats = PartitionStats(partition: PartitionRenderingTests.partition, labels: PartitionRenderingTests.labels, classes: 3)
        return [r.accuracyPlot().svg(), r.lossPlot().svg(), r.participationPlot().svg(), r.updateNormPlot().svg(),
                r.weightsHeatmap()!.svg(), r.partitionHeatmap()!.svg(), comparison(.cleanAccuracy).plot().svg(),
                PartitionHeatmap.svg(stats)]
    }

    @Test func everySVGHasAnOpaqueBackgroundALegendAndTitledAxes() throws {
        for svg in Self.allSVGs() {
            let head = svg.prefix(600)
            let size = try #require(head.firstMatch(of: /width="([0-9.]+)" height="([0-9.]+)"/))
            #expect(head.contains("<rect width=\"\(size.1)\" height=\"\(size.2)\" fill=\"#fff\"/>"), "no full-size background: \(head)")
            #expect(svg.contains("transform=\"rotate(-90"), "no y-axis title: \(head)")
            let texts = svg.matches(of: /<text [^>]*fill="#444"[^>]*>([^<]+)<\/text>/).map { String($0.1) }
            #expect(texts.count >= 2, "x and y axis titles expected: \(texts)")
            // A legend: line swatches for series, or colour swatches with a "blank" entry for scales.
            #expect(svg.contains("stroke-width=\"3\"") || svg.contains(">blank</text>"), "no legend: \(head)")
        }
    }

    @Test func paletteHasOneDistinctColourPerMetric() {
        let colours = PlotMetric.allCases.map(PlotPalette.color)
        #expect(Set(colours).count == colours.count)
    }

    @Test func theSameMetricHasTheSameColourInReportAndComparison() throws {
        let accuracy = Self.report().accuracyPlot().series
        let clean = try #require(accuracy.first { $0.name == "clean accuracy" })
        let robust = try #require(accuracy.first { $0.name == "robust accuracy" })
        let loss = try #require(Self.report().lossPlot().series.first)
        for (metric, series) in [(ComparisonMetric.cleanAccuracy, clean), (.robustAccuracy, robust), (.cleanLoss, loss)] {
            let compared = Self.comparison(metric).plot()
            #expect(compared.series[0].color == series.color, "\(metric)")
            #expect(compared.series[0].color == PlotPalette.color(metric.plotMetric))
            // Later runs get other hues, not shades of it.
            #expect(compared.series[1].color != compared.series[0].color)
            #expect(compared.svg().contains("stroke=\"\(series.color)\""))
        }
        #expect(clean.color == PlotPalette.color(.cleanAccuracy) && robust.color == PlotPalette.color(.robustAccuracy))
    }

    @Test func comparedRunsGetTenDistinctHuesThenDashes() {
        for metric in PlotMetric.allCases {
            let colours = (0..<10).map { PlotPalette.runColor(metric, run: $0) }
            #expect(colours[0] == PlotPalette.color(metric))
            if PlotPalette.categorical.contains(PlotPalette.color(metric)) { #expect(Set(colours).count == 10, "\(metric): \(colours)") }
        }
        #expect(PlotPalette.runDash(run: 9) == "" && PlotPalette.runDash(run: 10) != "")
    }

    @Test func divergingScaleIsNeutralAtTheUniformShare() {
        let neutral = HeatmapScale.divergingColor(ratio: 1, spread: 2)
        #expect(neutral == HeatmapScale.neutral)
        let (nr, ng, nb) = PlotPalette.rgb(neutral)
        #expect(nr == ng && ng == nb, "neutral is grey")
        let (ar, _, ab) = PlotPalette.rgb(HeatmapScale.divergingColor(ratio: 2, spread: 2))
        #expect(ar > ab, "above 1/n is red")
        let (br, _, bb) = PlotPalette.rgb(HeatmapScale.divergingColor(ratio: 0.5, spread: 2))
        #expect(bb > br, "below 1/n is blue")
        // Log-symmetric: 4× and ¼× are the two ends when the spread is 2 (log2 4).
        #expect(HeatmapScale.divergingColor(ratio: 4, spread: 2) == "#b2182b")
        #expect(HeatmapScale.divergingColor(ratio: 0.25, spread: 2) == "#2166ac")
        #expect(HeatmapScale.divergingColor(ratio: 0, spread: 2) == HeatmapScale.divergingColor(ratio: 1.0 / 64, spread: 2))
    }

    @Test func weightsHeatmapCentresEachRoundOnItsOwnOneOverN() throws {
        // Round 1 merges 4 clients (1/n = 0.25), round 2 merges 2 (1/n = 0.5).
        let log = AggregationLog(records: [1, 2].map { r in
            let weights: [String: Double] = r == 1 ? ["0": 0.25, "1": 0.4, "2": 0.1, "3": 0.25] : ["0": 0.25, "1": 0.75]
            return .round(RoundRecord(round: r, time: "t", durationSeconds: 1, sampled: [0, 1, 2, 3], accepted: weights.keys.compactMap { Int($0) }.sorted(),
                                      rejected: [], failed: [], timedOut: [], weights: weights, clientMetrics: [:], updateNorm: 1,
                                      eval: nil, checkpoint: nil, modelKept: false))
        })
        let svg = try #require(Self.report(log).weightsHeatmap()).svg()
        func fill(client: Int, round: Int) throws -> String {
            let m = try #require(svg.firstMatch(of: try Regex("fill=\"(#[0-9a-f]{6})\"><title>client \(client), round \(round):")))
            return String(m.output[1].substring ?? "")
        }
        #expect(try fill(client: 0, round: 1) == HeatmapScale.neutral)
        #expect(try fill(client: 3, round: 1) == HeatmapScale.neutral)
        let above = PlotPalette.rgb(try fill(client: 1, round: 1)), below = PlotPalette.rgb(try fill(client: 2, round: 1))
        #expect(above.0 > above.2 && below.2 > below.0)
        // 0.25 is neutral in round 1 but below 1/n = 0.5 in round 2.
        let halved = PlotPalette.rgb(try fill(client: 0, round: 2))
        #expect(halved.2 > halved.0)
        #expect(svg.contains(">1/n</text>") && svg.contains("merge weight ÷ 1/n (n = clients merged that round"))
    }

    @Test func tableColumnsKeepOnePrecision() {
        #expect([0.07808, 1.02, 1].map { ColumnFormat.metric.format($0) } == ["0.0781", "1.0200", "1.0000"])
        #expect([0.5, 1.0 / 3].map { ColumnFormat.weight.format($0) } == ["0.500", "0.333"])
        #expect([100, 1010.0].map { ColumnFormat.integer.format($0) } == ["100", "1010"])
        #expect(ColumnFormat.forMetric("samples") == .integer && ColumnFormat.forMetric("dataset_size") == .integer
                && ColumnFormat.forMetric("local_steps") == .integer && ColumnFormat.forMetric("train_loss") == .metric)
        #expect(ColumnFormat.metric.format(nil) == "-" && ColumnFormat.metric.format(.nan) == "nan")
        #expect(ColumnFormat.signed(4).format(0.05) == "+0.0500")

        var page = HTMLPage(title: "t")
        Self.report().clientTable(into: &page)
        let rows = page.body.components(separatedBy: "<tr>").filter { $0.contains("<td") }
        let cells = rows.map { $0.matches(of: /<td[^>]*>([^<]*)<\/td>/).map { String($0.1) } }
        for column in 2..<cells[0].count {
            let decimals = Set(cells.map(\.[column]).filter { $0 != "-" }.map { $0.split(separator: ".").dropFirst().first?.count ?? 0 })
            #expect(decimals.count == 1, "column \(column) mixes precisions: \(cells.map(\.[column]))")
        }
    }

    @Test func clientAccuracyIsLabelledAsTheModelReceivedFromTheRoundBefore() {
        #expect(RunReport.clientMeanLabel.contains("model received at r (round r−1's)"))
        #expect(RunReport.worst10Label.contains("round r−1's"))
        var metrics = ReportTests.log()
        metrics = AggregationLog(records: metrics.records.map { record in
            guard case var .round(r) = record else { return record }
            for k in r.clientMetrics.keys { r.clientMetrics[k]?["global_val_accuracy"] = 0.5 }
            return .round(r)
        })
        var page = HTMLPage(title: "t")
        Self.report(metrics).clientTable(into: &page)
        #expect(page.body.contains("global_val_accuracy (model received)"))
        #expect(page.body.contains("received in round 4 (round 3&#39;s merge)"))
    }
}
