import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// The HTML report and comparison built from hand-made logs.
@Suite struct ReportTests {
    static let evilName = "run<script>&\"'"

    /// 4 rounds of 3 sampled clients; eval on rounds 2 and 4, robust only on 4; client 2 is
    /// rejected in round 4 and client 5 times out; a checkpoint merge after round 4.
    static func log(name: String = evilName, rounds: Int = 4, end: Bool = true) -> AggregationLog {
        var records: [LogRecord] = [.runStart(RunStartRecord(
            run: name, time: "t0", aviaryVersion: "0.1.0", seeds: .init(partition: 1, sampling: 2, training: 3),
            rounds: rounds, clients: 6, clientsPerRound: 3, model: "mlp", parameters: 4554, strategy: "mwa(train_loss, p=2)",
            dataset: "synthetic", partition: "dirichlet(0.5)",
            partitionStats: PartitionSummary(counts: [10, 5], labelHistograms: [[10, 0, 0], [1, 2, 2]], meanTotalVariation: 0.4),
            notes: ["a <note>"]))]
        for r in 1...rounds {
            let last = r == 4
            let accepted = last ? [0, 1] : [0, 1, 2]
            let weights = Dictionary(uniqueKeysWithValues: accepted.map { (String($0), 1 / Double(accepted.count)) })
            let metrics = Dictionary(uniqueKeysWithValues: [0, 1, 2].map { (String($0), ["samples": 100 + Double($0), "train_loss": 0.5 + Double($0), "adv_loss": 0.9]) })
            let eval = r % 2 == 0 ? Evaluation(cleanAccuracy: 0.5 + Double(r) / 10, cleanLoss: 2 - Double(r) / 4, samples: 50,
                                               robustAccuracy: last ? 0.33 : nil) : nil
            records.append(.round(RoundRecord(
                round: r, time: "t\(r)", durationSeconds: 1, sampled: [0, 1, 2] + (last ? [5] : []), accepted: accepted,
                rejected: last ? [ClientReason(client: 2, reason: "norm > 10 <clipped>")] : [], failed: [],
                timedOut: last ? [5] : [], weights: weights, clientMetrics: metrics, updateNorm: Double(r),
                eval: eval, checkpoint: nil, modelKept: false)))
        }
        if rounds >= 4 {
            records.append(.checkpointMerge(CheckpointMergeRecord(
                round: 4, time: "t", rounds: [3, 4], weights: ["3": 0.4, "4": 0.6], metric: "val_loss", penalty: 1,
                eval: Evaluation(cleanAccuracy: 0.95, cleanLoss: 0.9, samples: 50), lastEval: Evaluation(cleanAccuracy: 0.9, cleanLoss: 1, samples: 50),
                checkpoint: "checkpoints/merged-round-0004.safetensors")))
        }
        if end {
            records.append(.runEnd(RunEndRecord(time: "t9", roundsCompleted: rounds, durationSeconds: 12.34, status: "completed",
                                                finalEval: Evaluation(cleanAccuracy: 0.9, cleanLoss: 1, samples: 50, robustAccuracy: 0.33))))
        }
        return AggregationLog(records: records)
    }

    @Test func accuracyPlotHasOnePointPerEvalRound() throws {
        let report = RunReport(log: Self.log(), source: "runs/x/aggregation.jsonl")
        let plot = report.accuracyPlot()
        #expect(plot.series.map(\.name) == ["clean accuracy", "robust accuracy", "checkpoint merge (clean accuracy)"])
        #expect(plot.series[0].points == [PlotPoint(x: 2, y: 0.7), PlotPoint(x: 4, y: 0.9)])
        // The clean-accuracy line is the first polyline; robust and merge have one point each (dots).
        #expect(polylines(plot.svg()).map(\.count) == [2])
        #expect(report.lossPlot().series[0].points.count == 2)
    }

    @Test func pageHoldsEverySectionAndEscapesUserText() throws {
        let html = RunReport(log: Self.log(), source: "runs/x/aggregation.jsonl").html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("run&lt;script&gt;&amp;&quot;&#39;"))
        #expect(!html.contains("<script"), "user text must not become markup")
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"), "no external assets")
        #expect(html.components(separatedBy: "<svg ").count - 1 == 6)  // accuracy, loss, participation, norm, weights, partition
        for text in ["mwa(train_loss, p=2)", "synthetic / dirichlet(0.5)", "partition 1, sampling 2, training 3", "12.3 s",
                     "4 of 4", "Merge weights: 3 of 6 clients × 4 rounds", "Label distribution: 2 clients × 3 classes",
                     "a &lt;note&gt;", "rejected: norm &gt; 10 &lt;clipped&gt;", "timed out", "+0.0500"] {
            #expect(html.contains(text), "missing \(text)")
        }
    }

    @Test func lastRoundTableListsEachClientWithItsWeight() throws {
        var page = HTMLPage(title: "t")
        RunReport(log: Self.log(), source: "s").clientTable(into: &page)
        let rows = page.body.components(separatedBy: "<tr>").filter { $0.contains("<td") }
        // Clients 0, 1 (accepted), 2 (rejected), 5 (timed out) and the mean footer.
        #expect(rows.count == 5)
        #expect(rows[0].hasPrefix("<td class=\"t\">0</td><td class=\"t\">accepted</td><td>0.500</td><td>100</td><td>0.5000</td><td>0.9000</td>"), "\(rows[0])")
        #expect(rows[3].hasPrefix("<td class=\"t\">5</td><td class=\"t\">timed out</td><td>-</td>"))
        #expect(rows[4].contains("<td class=\"t\">mean</td><td class=\"t\">2 of 4 accepted</td><td>-</td><td>101</td><td>1.5000</td>"))
    }

    @Test func weightsHeatmapHasOnlyMergedClientsAndParticipationCounts() throws {
        let report = RunReport(log: Self.log(), source: "s")
        let heat = try #require(report.weightsHeatmap())
        #expect(heat.rowLabels == ["0", "1", "2"])
        let third: Double? = 1.0 / 3
        let expected: [Double?] = [third, third, third, nil]
        #expect(heat.values[2] == expected)
        #expect(report.participationPlot().bars.last?.values == [2, 1, 1, 0])
        let partition = try #require(report.partitionHeatmap())
        let second: [Double?] = [0.2, 0.4, 0.4], first: [Double?] = [1, nil, nil]
        #expect(partition.values[1] == second)
        #expect(partition.values[0] == first)
    }

    @Test func reportIsDeterministic() {
        #expect(RunReport(log: Self.log(), source: "s").html() == RunReport(log: Self.log(), source: "s").html())
    }

    @Test func finalMetricsFallBackToTheLastEvalWithoutRunEnd() {
        let f = FinalMetrics(log: Self.log(rounds: 3, end: false), path: "p")
        #expect(f.cleanAccuracy == 0.7 && f.cleanLoss == 1.5 && f.robustAccuracy == nil)
        #expect(f.rounds == 3 && f.durationSeconds == nil && f.status == "no run_end")
    }

    @Test func comparisonTabulatesRunsOfDifferentLengths() {
        let cmp = RunComparison(runs: [.init(path: "runs/a", log: Self.log(name: "a")),
                                       .init(path: "runs/b", log: Self.log(name: "b", rounds: 2, end: false))],
                                metric: .cleanAccuracy)
        #expect(cmp.textTable() == """
            run  rounds  duration  clean_acc  clean_loss  robust_acc  status
            a         4    12.3 s     0.9000      1.0000      0.3300  completed
            b         2         -     0.7000      1.5000           -  no run_end

            """)
        #expect(cmp.plot().series.map { $0.points.count } == [2, 1])
        let robust = RunComparison(runs: cmp.runs, metric: .robustAccuracy).plot()
        #expect(robust.series.map { $0.points.count } == [1, 0])
        #expect(robust.series.map(\.name) == ["a", "b (no robust_accuracy)"])
        let html = cmp.html()
        #expect(html.contains("<svg ") && html.contains("runs/b"))
    }

    @Test func runsWithTheSameNameAreLabelledByPath() {
        let cmp = RunComparison(runs: [.init(path: "x/a", log: Self.log(name: "same")), .init(path: "y/a", log: Self.log(name: "same"))],
                                metric: .cleanLoss)
        #expect(cmp.labels == ["x/a", "y/a"])
    }
}
