import Foundation
import Testing
@testable import AviaryLog

/// LogRepair on real files: a clean log is untouched, a torn line and later rounds are cut at a
/// line boundary, and the state's recorded position is checked.
@Suite struct LogRepairTests {
    /// A log as the server writes it: run_start, joins, rounds 1…n (round 2 with a checkpoint merge
    /// and a tagged note), optionally run_end. Returns the path and the position after each round.
    static func writeLog(_ dir: SafetensorsTestDirectory, rounds n: Int, end: Bool) throws -> (path: String, after: [Int: LogPosition]) {
        let path = dir.file("aggregation.jsonl")
        let w = try AggregationLogWriter(path: path)
        try w.append(.runStart(RunStartRecord(run: "t", time: "t0", aviaryVersion: "0", seeds: .init(partition: 1, sampling: 2, training: 3),
                                              rounds: 9, clients: 2, clientsPerRound: 2, model: "m", parameters: 3, strategy: "fedavg",
                                              dataset: "d", partition: "iid", partitionStats: nil, notes: [])))
        try w.append(.note(NoteRecord(event: "client_joined", time: "t", client: 0, message: "c0")))
        var after: [Int: LogPosition] = [:]
        for r in 1...max(n, 1) where n > 0 {
            if r == 2 {
                try w.append(.note(NoteRecord(event: "merge_failed", time: "t", round: r, message: "x")))
                try w.append(.checkpointMerge(CheckpointMergeRecord(round: r, time: "t", rounds: [1, 2], weights: ["1": 0.5, "2": 0.5],
                                                                    metric: "loss", penalty: 1, eval: .init(cleanAccuracy: 0.5, cleanLoss: 1, samples: 10),
                                                                    lastEval: nil, checkpoint: nil)))
            }
            try w.append(.note(NoteRecord(event: "clients_unresponsive", time: "t", message: "untagged")))
            try w.append(.round(RoundRecord(round: r, time: "t", durationSeconds: 1, sampled: [0, 1], accepted: [0], rejected: [], failed: [],
                                            timedOut: [1], weights: ["0": 1], clientMetrics: [:], updateNorm: 0.1, eval: nil,
                                            checkpoint: nil, modelKept: false)))
            after[r] = w.position
        }
        if end { try w.append(.runEnd(RunEndRecord(time: "t", roundsCompleted: n, durationSeconds: 3, status: "failed: interrupted", finalEval: nil))) }
        return (path, after)
    }

    static func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func writerPositionMatchesTheFile() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 3, end: false)
        let data = try Self.read(path)
        #expect(after[3] == LogPosition(records: data.filter { $0 == 0x0A }.count, bytes: data.count))
        // Reopened (as a resumed server does), the writer counts what is there.
        #expect(try AggregationLogWriter(path: path).position == after[3])
    }

    @Test func cleanLogIsUnchangedByteForByte() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 3, end: false)
        let before = try Self.read(path)
        let plan = try LogRepair.repair(path: path, round: 3, position: after[3])
        #expect(plan.isClean && plan.keepBytes == before.count)
        #expect(try Self.read(path) == before)
        #expect(try LogRepair.repair(path: path, round: 3, position: nil).isClean)
    }

    @Test func tornLastLineIsCut() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 2, end: false)
        let good = try Self.read(path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"event\":\"round\",\"round\":3,\"ti".utf8))
        try handle.close()
        let plan = try LogRepair.repair(path: path, round: 2, position: after[2])
        #expect(plan.cut == [LogCut(line: 9, event: "torn_line", round: nil, bytes: 30)])
        #expect(plan.summary.contains("torn last line (30 bytes)"))
        #expect(try Self.read(path) == good)
        #expect(try AggregationLog.read(path: path).warnings.isEmpty)
    }

    @Test func completeJSONWithoutNewlineAndGarbageLastLineAreTorn() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, _) = try Self.writeLog(dir, rounds: 1, end: false)
        let good = try Self.read(path)
        for tail in ["{\"event\":\"client_joined\",\"time\":\"t\",\"message\":\"m\"}", "\u{0}\u{0}\u{0}\n"] {
            try (good + Data(tail.utf8)).write(to: URL(fileURLWithPath: path))
            let plan = try LogRepair.repair(path: path, round: 1, position: nil)
            #expect(plan.cut.map(\.event) == ["torn_line"])
            #expect(try Self.read(path) == good)
        }
    }

    @Test func laterRoundsAndRunEndAreCutAtTheStatePosition() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 4, end: true)
        let all = try Self.read(path)
        let plan = try LogRepair.repair(path: path, round: 1, position: after[1])
        #expect(plan.keepBytes == after[1]!.bytes)
        #expect(plan.cut.map(\.event) == ["merge_failed", "checkpoint_merge", "clients_unresponsive", "round",
                                          "clients_unresponsive", "round", "clients_unresponsive", "round", "run_end"])
        #expect(plan.cut.compactMap { $0.event == "round" ? $0.round : nil } == [2, 3, 4])
        #expect(plan.summary.hasPrefix("cut \(all.count - after[1]!.bytes) bytes: rounds 2–4"))
        let kept = try AggregationLog.read(path: path)
        #expect(kept.rounds.map(\.round) == [1] && kept.runEnd == nil && kept.checkpointMerges.isEmpty)
        #expect(try Self.read(path) == all.prefix(after[1]!.bytes))
    }

    @Test func withoutAPositionTaggedRecordsDecide() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 3, end: true)
        let plan = try LogRepair.repair(path: path, round: 2, position: nil)
        // The untagged note written during round 3 precedes round 3's record and is kept.
        #expect(plan.cut.map(\.event) == ["round", "run_end"])
        #expect(plan.keepBytes == after[3]!.bytes - plan.cut[0].bytes)
        let resumedOnce = try Self.read(path)
        // Resuming twice from the same round changes nothing more.
        #expect(try LogRepair.repair(path: path, round: 2, position: nil).isClean)
        #expect(try Self.read(path) == resumedOnce)
    }

    @Test func resumedRecordRoundTripsAndIsNeverCutWhenBeforeThePoint() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 2, end: true)
        let plan = try LogRepair.repair(path: path, round: 2, position: after[2])
        #expect(plan.cut.map(\.event) == ["run_end"])
        let w = try AggregationLogWriter(path: path)
        let record = ResumedRecord(time: "t1", fromRound: 2, cut: plan.cut, reason: "aviary-server --resume")
        try w.append(.resumed(record))
        let log = try AggregationLog.read(path: path)
        #expect(log.resumptions == [record])
        #expect(try LogRepair.repair(path: path, round: 2, position: w.position).isClean)
        let line = String(decoding: try Self.read(path), as: UTF8.self).split(separator: "\n").last!
        #expect(line.contains("\"event\":\"resumed\"") && line.contains("\"from_round\":2"))
    }

    @Test func inconsistentPositionIsRefused() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, after) = try Self.writeLog(dir, rounds: 2, end: false)
        let size = try Self.read(path).count
        let p = after[2]!
        #expect { try LogRepair.repair(path: path, round: 2, position: .init(records: p.records, bytes: size + 1)) }
            throws: { if case RunFileError.mismatch(_, let r) = $0 { r.contains("missing") } else { false } }
        #expect { try LogRepair.repair(path: path, round: 2, position: .init(records: p.records, bytes: p.bytes - 1)) }
            throws: { if case RunFileError.mismatch(_, let r) = $0 { r.contains("end of a line") } else { false } }
        #expect { try LogRepair.repair(path: path, round: 2, position: .init(records: p.records + 1, bytes: p.bytes)) }
            throws: { if case RunFileError.mismatch = $0 { true } else { false } }
        #expect(try Self.read(path).count == size)
    }

    @Test func corruptLineBeforeThePointIsAnErrorNotACut() throws {
        let dir = try SafetensorsTestDirectory()
        let (path, _) = try Self.writeLog(dir, rounds: 2, end: false)
        var text = String(decoding: try Self.read(path), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"c0\"", with: "\"c0\"x")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect { try LogRepair.repair(path: path, round: 2, position: nil) }
            throws: { if case RunFileError.badLine(_, 2, _) = $0 { true } else { false } }
    }
}

/// Resume's cross-check of the state's round against the log's last completed round.
@Suite struct LogRepairRoundCheckTests {
    static func line(_ json: String) -> String { json + "\n" }

    @Test func aPositionWhoseLastRoundIsNotTheStatesRoundIsRefused() throws {
        let text = Self.line(#"{"event":"run_start"}"#) + Self.line(#"{"event":"round","round":1}"#)
            + Self.line(#"{"event":"round","round":2,"checkpoint":"checkpoints/round-0002.safetensors","checkpoint_crc32":"0badf00d"}"#)
        let data = Data(text.utf8)
        let position = LogPosition(records: 3, bytes: data.count)
        let plan = try LogRepair.plan(data, path: "log", round: 2, position: position)
        #expect(plan.lastRound?.round == 2 && plan.lastRound?.checkpointCrc32 == "0badf00d")
        // The same log under a state relabelled to round 4 (its position unchanged).
        #expect(throws: RunFileError.self) { try LogRepair.plan(data, path: "log", round: 4, position: position) }
        do { _ = try LogRepair.plan(data, path: "log", round: 4, position: position) } catch {
            #expect("\(error)".contains("last completed round before the state's position is 2"), "\(error)")
        }
    }
}
