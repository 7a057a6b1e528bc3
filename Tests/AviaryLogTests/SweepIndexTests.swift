import Foundation
import Testing
@testable import AviaryLog

/// `sweep.json` and `run_start.config`: written, read back, typed values kept.
@Suite struct SweepIndexTests {
    @Test func indexRoundTripsWithTypedSettings() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("sweep.json")
        let index = SweepIndex(sweep: "s", topology: "t.toml", directory: "runs/s", overrides: ["run.rounds=2"],
                               grid: [.init(key: "merge.penalty", values: ["0", "0.5"]), .init(key: "merge.metric", values: ["adv_loss"])],
                               seeds: [1, 2], parallel: 2, updated: "now",
                               runs: [.init(name: "penalty=0.5,metric=adv_loss,seed=2", directory: "runs/s/penalty=0.5,metric=adv_loss,seed=2",
                                            settings: ["merge.penalty": .double(0.5), "merge.metric": .string("adv_loss")], seed: 2,
                                            status: "completed", wallSeconds: 1.5)])
        try index.write(to: path)
        #expect(try SweepIndex.read(path: path) == index)
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.contains("\"wall_seconds\" : 1.5") && text.contains("\"merge.penalty\" : 0.5") && text.contains("\"format\" : \"aviary-sweep\""), "\(text)")
    }

    /// A key without a value (`max_local_steps` unset) is JSON null and reads back as null, not
    /// as the NaN the log reader makes of other nulls.
    @Test func configNullsSurviveTheLog() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("aggregation.jsonl")
        var start = RunStartRecord(run: "r", time: "t", aviaryVersion: "v", seeds: .init(partition: 1, sampling: 2, training: 3),
                                   rounds: 1, clients: 1, clientsPerRound: 1, model: "m", parameters: 1, strategy: "fedavg",
                                   dataset: "synthetic", partition: "natural", partitionStats: nil, notes: [])
        let config: [String: ConfigValue] = ["train.max_local_steps": .null, "merge.penalty": .double(0.5), "model.hidden": .array([.int(8)]),
                                             "merge.strategy": .string("mwa"), "evaluation.robust": .bool(false), "run.rounds": .int(1)]
        start.config = config
        let w = try AggregationLogWriter(path: path)
        try w.append(.runStart(start))
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.contains("\"train.max_local_steps\":null"), "\(text)")
        #expect(try AggregationLog.read(path: path).runStart?.config == config)
    }
}
