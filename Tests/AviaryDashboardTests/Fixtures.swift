import Foundation
import AviaryLog

/// Hand-made run directories for the watcher's tests: real files in a temporary directory.
enum Fixtures {
    static func directory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "aviary-dashboard-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func runStart(_ name: String, rounds: Int = 5, config: [String: ConfigValue]? = nil) -> LogRecord {
        var s = RunStartRecord(run: name, time: "2026-12-06T08:00:00Z", aviaryVersion: "test", seeds: .init(partition: 1, sampling: 2, training: 3),
                               rounds: rounds, clients: 4, clientsPerRound: 2, model: "mlp", parameters: 10, strategy: "fedavg",
                               dataset: "synthetic", partition: "iid", partitionStats: nil, notes: [])
        s.config = config
        return .runStart(s)
    }

    static func round(_ r: Int, accuracy: Double? = nil, padding: Int = 0) -> LogRecord {
        let metrics = Dictionary(uniqueKeysWithValues: (0..<padding).map { ("\($0)", ["train_loss": Double($0)]) })
        return .round(RoundRecord(round: r, time: "2026-12-06T08:00:0\(r % 10)Z", durationSeconds: 1, sampled: [0, 1], accepted: [0, 1],
                                  rejected: [], failed: [], timedOut: [], weights: ["0": 0.5, "1": 0.5], clientMetrics: metrics,
                                  updateNorm: 1, eval: accuracy.map { Evaluation(cleanAccuracy: $0, cleanLoss: 1, samples: 10) },
                                  checkpoint: nil, modelKept: false))
    }

    static func runEnd(_ status: String, rounds: Int) -> LogRecord {
        .runEnd(RunEndRecord(time: "2026-12-06T08:01:00Z", roundsCompleted: rounds, durationSeconds: 60, status: status, finalEval: nil))
    }

    /// A run directory at `dir/name` with `records` in its log.
    @discardableResult
    static func run(in dir: String, _ name: String, _ records: [LogRecord]) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try append(records, to: RunDirectory(path: path).log)
        return path
    }

    static func append(_ records: [LogRecord], to log: String) throws {
        let writer = try AggregationLogWriter(path: log)
        for r in records { try writer.append(r) }
    }

    /// The exact line the server's writer produces for `record`, newline included.
    static func line(_ record: LogRecord) throws -> Data {
        let dir = directory("line")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try append([record], to: dir + "/l.jsonl")
        return FileManager.default.contents(atPath: dir + "/l.jsonl")!
    }

    static func appendBytes(_ data: Data, to path: String) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: data)
        try h.close()
    }
}
