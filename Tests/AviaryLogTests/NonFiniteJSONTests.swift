import Foundation
import Testing
@testable import AviaryLog

/// Non-finite numbers in aggregation.jsonl: written as JSON `null` with a `non_finite` note naming
/// where and what, read back as NaN; strings in the record are left alone.
@Suite struct NonFiniteJSONTests {
    @Test func nonFiniteValuesAreNullWithANoteAndReadBackAsNaN() throws {
        let dir = try SafetensorsTestDirectory()
        let path = dir.file("aggregation.jsonl")
        let w = try AggregationLogWriter(path: path)
        let eval = Evaluation(cleanAccuracy: 0.5, cleanLoss: .infinity, samples: 10, validationLoss: -.infinity)
        try w.append(.round(RoundRecord(round: 1, time: "t", durationSeconds: 1, sampled: [0, 1], accepted: [0],
                                        rejected: [ClientReason(client: 1, reason: "loss null, \"nan\"")], failed: [], timedOut: [],
                                        weights: ["0": 1], clientMetrics: ["0": ["train_loss": .nan, "samples": 4]], updateNorm: 0.25,
                                        eval: eval, checkpoint: nil, modelKept: false)))
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.contains("\"clean_loss\":null") && text.contains("\"train_loss\":null") && text.contains("\"validation_loss\":null"), "\(text)")
        #expect(text.contains("\"non_finite\":{\"client_metrics.0.train_loss\":\"nan\",\"eval.clean_loss\":\"inf\",\"eval.validation_loss\":\"-inf\"}"), "\(text)")
        #expect(!text.contains("aviary.non_finite"))
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil, "not strict JSON: \(text)")

        let round = try #require(try AggregationLog.read(path: path).rounds.first)
        #expect(round.eval?.cleanLoss.isNaN == true && round.eval?.validationLoss?.isNaN == true)
        #expect(round.clientMetrics["0"]?["train_loss"]?.isNaN == true && round.clientMetrics["0"]?["samples"] == 4)
        #expect(round.eval?.cleanAccuracy == 0.5 && round.updateNorm == 0.25)
        #expect(round.rejected.first?.reason == "loss null, \"nan\"")
    }

    @Test func finiteRecordsAreUnchangedAndOldStringFormReadsBack() throws {
        let line = Data(#"{"event":"run_end","time":"t","rounds_completed":1,"duration_seconds":"inf","status":"completed"}"#.utf8)
        #expect(NonFiniteJSON.nulled(line) == line)
        let log = try AggregationLog.parse(line + Data([0x0A]), path: "x")
        #expect(log.runEnd?.durationSeconds == .infinity)
    }
}
