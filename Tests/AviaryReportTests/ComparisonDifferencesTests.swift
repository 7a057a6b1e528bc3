import Foundation
import Testing
@testable import AviaryReport
import AviaryLog

/// What tells compared runs apart, what a report's configuration table marks as switched off,
/// and where a line at the bottom of the y domain is drawn.
@Suite struct ComparisonDifferencesTests {
    static func log(name: String, config: [String: ConfigValue], rounds: Int = 5) -> AggregationLog {
        var start = RunStartRecord(run: name, time: "t", aviaryVersion: "0", seeds: .init(partition: 1, sampling: 2, training: 3),
                                   rounds: rounds, clients: 2, clientsPerRound: 2, model: "mlp", parameters: 10, strategy: "fedavg",
                                   dataset: "synthetic", partition: "natural", partitionStats: nil, notes: [])
        start.config = config
        let rounds: [LogRecord] = (1...rounds).map { r in
            .round(RoundRecord(round: r, time: "t", durationSeconds: 1, sampled: [0, 1], accepted: [0, 1], rejected: [], failed: [],
                               timedOut: [], weights: [:], clientMetrics: [:], updateNorm: 1,
                               eval: Evaluation(cleanAccuracy: 0.1 * Double(r), cleanLoss: 1, samples: 10), checkpoint: nil, modelKept: false))
        }
        return AggregationLog(records: [.runStart(start)] + rounds)
    }

    static let base: [String: ConfigValue] = ["run.name": .string("quickstart"), "run.output": .string("runs"), "merge.strategy": .string("fedavg"),
                                              "train.proximal_mu": .double(0), "merge.server_optimizer": .string("sgd")]

    static func comparison() -> RunComparison {
        var second = base
        second["run.name"] = .string("quickstart-2")
        second["train.proximal_mu"] = .double(0.01)
        second["merge.server_optimizer"] = .string("adam")
        return RunComparison(runs: [.init(path: "runs/quickstart", log: log(name: "quickstart", config: base)),
                                    .init(path: "runs/quickstart-2", log: log(name: "quickstart-2", config: second))],
                             metric: .cleanAccuracy)
    }

    @Test func theDifferingKeysNameTheRunsInTheLegendAndTheTable() {
        let c = Self.comparison()
        #expect(c.differingKeys == ["merge.server_optimizer", "train.proximal_mu"], "run.name differs but names the run")
        let legend = c.plot().series.map(\.name)
        #expect(legend == ["quickstart: merge.server_optimizer=sgd, train.proximal_mu=0",
                           "quickstart-2: merge.server_optimizer=adam, train.proximal_mu=0.01"], "\(legend)")
        let lines = c.textTable().split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("run           merge.server_optimizer  train.proximal_mu  rounds"), "\(lines)")
        let cells = lines[2].split(separator: " ").map(String.init)
        #expect(Array(cells.prefix(3)) == ["quickstart-2", "adam", "0.01"], "\(lines)")
        let html = c.html()
        #expect(html.contains(">merge.server_optimizer</th>") && html.contains(">adam</td>"), "\(html)")
        #expect(Set(c.plot().series.map(\.color)).count == 2)
    }

    @Test func lastKIsCappedByTheRoundsTheRunsHave() {
        #expect(Self.comparison().lastK == 5)
        #expect(RunComparison(runs: Self.comparison().runs, metric: .cleanAccuracy, lastK: 3).lastK == 3)
    }

    @Test func keysSwitchedOffByOthersAreMarked() {
        let config: [String: ConfigValue] = ["adversarial.mode": .string("none"), "adversarial.attack": .string("pgd"),
                                             "adversarial.epsilon": .double(0.1), "attackers.kind": .string("none"),
                                             "seeds.attackers": .int(5), "seeds.system": .int(4), "train.proximal_mu": .double(0)]
        let inactive = ConfigEffect.inactive(config)
        #expect(inactive["adversarial.attack"] == "adversarial.mode = none" && inactive["adversarial.epsilon"] != nil)
        #expect(inactive["adversarial.mode"] == nil && inactive["train.proximal_mu"] == nil)
        #expect(inactive["seeds.attackers"] == "attackers.kind = none" && inactive["seeds.system"] == "no [system] section")
        var pgd = config
        pgd["adversarial.mode"] = .string("pgd")
        pgd["adversarial.mix_lambda"] = .double(0.5)
        let on = ConfigEffect.inactive(pgd)
        #expect(on["adversarial.attack"] == nil && on["adversarial.mix_lambda"] == "adversarial.mode = pgd, not mix")
        var report = RunReport(log: Self.log(name: "r", config: config), source: "runs/r/aggregation.jsonl").html()
        report = report.replacingOccurrences(of: "\n", with: "")
        #expect(report.contains(">adversarial.attack</td><td class=\"t\">pgd</td><td class=\"t\">none (adversarial.mode = none)</td>"), "\(report)")
    }

    @Test func aLineAtTheBottomOfTheDomainIsDrawnInsideTheFrame() {
        let plot = LinePlot(title: "t", xLabel: "round", yLabel: "accuracy",
                            series: [LinePlot.Series(name: "worst 10%", color: "#9467bd", points: [PlotPoint(x: 1, y: 0), PlotPoint(x: 2, y: 0)]),
                                     LinePlot.Series(name: "clean", color: "#1f77b4", points: [PlotPoint(x: 1, y: 0.5), PlotPoint(x: 2, y: 0.8)])])
        let svg = plot.svg()
        let frame = try! #require(svg.firstMatch(of: /<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)" fill="none"/))
        let bottom = Double(frame.2)! + Double(frame.4)!
        let line = try! #require(svg.firstMatch(of: /stroke="#9467bd"[^>]*points="[0-9.]+,([0-9.]+)/))
        #expect(Double(line.1)! < bottom - 3, "the 0.0 line sits \(bottom - Double(line.1)!) px above the frame's bottom edge")
    }
}
