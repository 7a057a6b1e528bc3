import Foundation
import Testing
@testable import AviaryExport
import AviaryLog

/// The bytes of the TensorBoard writer and the files of the MLflow store, checked without the
/// tools (the Python tests in Tests/Python read both back with TensorBoard and MLflow).
@Suite struct ExportFormatTests {
    @Test func crc32cMatchesTheCastagnoliCheckValue() {
        #expect(CRC32C.checksum(Data("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum(Data()) == 0)
        // TensorFlow's masking (crc32c.h): rotate right 15, add 0xa282ead8.
        #expect(TFRecord.masked(0) == 0xa282_ead8)
        #expect(TFRecord.masked(0xE306_9283) == ((0xE306_9283 >> 15 | 0xE306_9283 << 17) & 0xFFFF_FFFF) &+ 0xa282_ead8)
    }

    @Test func theVersionEventIsTensorFlowsEncoding() {
        // Event { wall_time: 1.0 (field 1, fixed64), file_version: "brain.Event:2" (field 3, bytes) }
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x1A, 13] + Array("brain.Event:2".utf8)
        #expect([UInt8](TensorBoardEvents.versionEvent(wallTime: 1)) == expected)
    }

    @Test func aScalarEventNestsSummaryValues() {
        let e = TensorBoardEvents.scalarEvent(RoundScalars(round: 300, wallTime: 0, values: [("acc", 0.5)]))
        // wall_time, step 300 as a varint (0xAC 0x02), summary (field 5) { value (field 1) { tag "acc", simple_value 0.5f } }
        let value: [UInt8] = [0x0A, 3] + Array("acc".utf8) + [0x15, 0, 0, 0, 0x3F]
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xAC, 0x02, 0x2A, UInt8(value.count + 2), 0x0A, UInt8(value.count)] + value
        #expect([UInt8](e) == expected)
    }

    @Test func tfrecordFramesCarryLengthAndMaskedChecksums() {
        let data = Data("hello".utf8)
        let frame = [UInt8](TFRecord.frame(data))
        #expect(frame.count == 8 + 4 + 5 + 4)
        #expect(frame[0..<8] == [5, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = TFRecord.masked(CRC32C.checksum(Data(frame[0..<8])))
        #expect(frame[8..<12].elementsEqual((0..<4).map { UInt8((lengthCRC >> (8 * UInt32($0))) & 0xff) }))
        #expect(Data(frame[12..<17]) == data)
    }

    static func log(end: String?, runID: String? = "run-00112233445566778899aabbccddeeff") -> AggregationLog {
        var start = RunStartRecord(run: "exp-1", time: "2026-12-06T08:00:00Z", aviaryVersion: "test", seeds: .init(partition: 1, sampling: 2, training: 3),
                                   rounds: 2, clients: 2, clientsPerRound: 2, model: "mlp", parameters: 10, strategy: "fedavg",
                                   dataset: "synthetic", partition: "iid", partitionStats: nil, notes: [])
        start.runId = runID
        start.config = ["merge.strategy": .string("fedavg"), "train.learning_rate": .double(0.05), "adversarial.clients[0].epsilon": .double(0.1)]
        var records: [LogRecord] = [.runStart(start)]
        for r in 1...2 {
            var round = RoundRecord(round: r, time: "2026-12-06T08:00:0\(r)Z", durationSeconds: 0.25, sampled: [0, 1], accepted: [0, 1],
                                              rejected: [], failed: [], timedOut: [], weights: ["0": 0.5, "1": 0.5], clientMetrics: [:],
                                              updateNorm: 1.5, eval: r == 2 ? Evaluation(cleanAccuracy: 0.625, cleanLoss: 0.8, samples: 8) : nil,
                                              checkpoint: nil, modelKept: false)
            if r == 2 { round.lost = [1] }
            records.append(.round(round))
        }
        if let end { records.append(.runEnd(RunEndRecord(time: "2026-12-06T08:00:09Z", roundsCompleted: 2, durationSeconds: 9, status: end, finalEval: nil))) }
        return AggregationLog(records: records)
    }

    @Test func roundScalarsLeaveOutWhatARoundDidNotMeasure() {
        let scalars = RoundScalars.of(Self.log(end: nil))
        #expect(scalars.map(\.round) == [1, 2])
        #expect(!scalars[0].values.contains { $0.name == "clean_accuracy" })
        #expect(scalars[1].values.first { $0.name == "clean_accuracy" }?.value == 0.625)
        #expect(scalars[1].wallTime == 1_796_544_002)
        // `lost` as `aviary logs --csv` has it: every round, 0 when none was lost.
        #expect(scalars.map { $0.values.first { $0.name == "lost" }?.value } == [0, 1])
    }

    @Test func mlflowRunHasParamsMetricsAndVerdictTags() throws {
        let store = NSTemporaryDirectory() + "aviary-mlflow-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: store) }
        let dir = try MLflowRun.export(Self.log(end: "degraded: 1 of 2 rounds merged nothing"), runPath: "runs/exp-1", to: store, runID: "abc").directory
        func read(_ p: String) -> String? { FileManager.default.contents(atPath: dir + "/" + p).map { String(decoding: $0, as: UTF8.self) } }
        #expect(dir.hasSuffix("/1/abc"))
        #expect(read("params/train.learning_rate") == "0.05")
        #expect(read("params/adversarial.clients_0_.epsilon") == "0.1")
        #expect(read("metrics/clean_accuracy") == "1796544002000 0.625 2\n")
        #expect(read("metrics/update_norm")?.split(separator: "\n").count == 2)
        #expect(read("tags/aviary.status") == "degraded")
        #expect(read("tags/aviary.verdict") == "degraded: 1 of 2 rounds merged nothing")
        #expect(read("meta.yaml")?.contains("status: 4\n") == true)
        // A second export joins the same experiment.
        let again = try MLflowRun.export(Self.log(end: "completed"), runPath: "runs/exp-1", to: store, runID: "def")
        #expect(again.directory.hasSuffix("/1/def") && !again.replaced)
        #expect(FileManager.default.contents(atPath: again.directory + "/meta.yaml").map { String(decoding: $0, as: UTF8.self).contains("status: 3\n") } == true)
    }

    /// Exporting one run twice gives one MLflow run, holding the second export (issue 26): its
    /// id comes from run_start.run_id, so a run exported while going and again once finished
    /// ends FINISHED with every round, not as two runs.
    @Test func exportingARunAgainReplacesItsMLflowRun() throws {
        let store = NSTemporaryDirectory() + "aviary-mlflow-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: store) }
        let first = try MLflowRun.export(Self.log(end: nil), runPath: "runs/exp-1", to: store)
        #expect(first.directory.hasSuffix("/1/00112233445566778899aabbccddeeff") && !first.replaced)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: first.directory + "/metrics/only_in_the_old_export"))
        let second = try MLflowRun.export(Self.log(end: "completed"), runPath: "runs/exp-1", to: store)
        #expect(second == MLflowRun.Written(directory: first.directory, replaced: true))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store + "/1").filter { $0 != "meta.yaml" } == ["00112233445566778899aabbccddeeff"])
        #expect(FileManager.default.contents(atPath: second.directory + "/meta.yaml").map { String(decoding: $0, as: UTF8.self).contains("status: 3\n") } == true)
        #expect(!FileManager.default.fileExists(atPath: second.directory + "/metrics/only_in_the_old_export"))
        // Run ids are unique per store: another experiment is refused, naming the one that holds it.
        #expect(throws: ExportError.exportedElsewhere(runID: "00112233445566778899aabbccddeeff", path: first.directory, experiment: "aviary")) {
            try MLflowRun.export(Self.log(end: "completed"), runPath: "runs/exp-1", to: store, experiment: "other")
        }
        // A log from before run ids gets a stable id from its name and start time.
        let old = Self.log(end: nil, runID: nil).runStart!
        #expect(MLflowRun.runID(of: old) == MLflowRun.runID(of: old))
        #expect(MLflowRun.runID(of: old).count == 32 && MLflowRun.runID(of: old).allSatisfy(\.isHexDigit))
        var later = old
        later.time = "2026-12-06T09:00:00Z"
        #expect(MLflowRun.runID(of: later) != MLflowRun.runID(of: old))
    }

    @Test func aLogWithoutRunStartIsRefused() {
        #expect(throws: ExportError.noRunStart(path: "runs/x")) {
            try TensorBoardEvents.export(AggregationLog(records: []), runPath: "runs/x", to: NSTemporaryDirectory() + "unused")
        }
    }
}
