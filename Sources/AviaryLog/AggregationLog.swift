import Foundation

/// Errors reading or writing a run directory; each names the file and, for the log, the line.
public enum RunFileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    /// The file disagrees with what another run file recorded about it (e.g. the run state's log position).
    case mismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open \(path): \(reason)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        case let .badLine(path, line, reason): "\(path):\(line): \(reason)"
        case let .mismatch(path, reason): "\(path): \(reason)"
        }
    }
}

/// Appends records to `aggregation.jsonl`. Each record is one `write` of one complete line, so a
/// crash leaves at most a truncated last line, which the reader reports and skips.
public final class AggregationLogWriter {
    public let path: String
    private let handle: FileHandle
    private let encoder: JSONEncoder
    /// The log's length after the last append: what `RunState.log` records after a round.
    public private(set) var position: LogPosition

    public init(path: String) throws(RunFileError) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw .cannotWrite(path: path, reason: "could not create the file (does the directory exist and is it writable?)")
            }
        }
        do {
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            let end = try handle.seekToEnd()
            // Counted once at open (a resumed run's log already has records).
            let existing = end == 0 ? 0 : (FileManager.default.contents(atPath: path) ?? Data()).prefix(Int(end)).withUnsafeBytes { raw in
                raw.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            position = LogPosition(records: existing, bytes: Int(end))
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
        encoder = LogCoding.encoder()
    }

    deinit { try? handle.close() }

    public func append(_ record: LogRecord) throws(RunFileError) {
        var line: Data
        do {
            switch record {
            case let .runStart(r): line = try encoder.encode(r)
            case let .round(r): line = try encoder.encode(r)
            case let .runEnd(r): line = try encoder.encode(r)
            case let .checkpointMerge(r): line = try encoder.encode(r)
            case let .resumed(r): line = try encoder.encode(r)
            case let .note(r): line = try encoder.encode(r)
            }
        } catch {
            throw .cannotWrite(path: path, reason: "encoding failed: \(error)")
        }
        line.append(0x0A)
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        position.records += 1
        position.bytes += line.count
    }
}

/// Reads `aggregation.jsonl`. Unknown events are kept as notes; a malformed line is an error
/// naming the line, except a truncated final line (a crash mid-write), which is reported in `warnings`.
public struct AggregationLog: Sendable {
    public var records: [LogRecord]
    public var warnings: [String]

    public var runStart: RunStartRecord? {
        for r in records { if case let .runStart(s) = r { return s } }
        return nil
    }
    public var rounds: [RoundRecord] {
        records.compactMap { if case let .round(r) = $0 { r } else { nil } }
    }
    public var runEnd: RunEndRecord? {
        for r in records.reversed() { if case let .runEnd(e) = r { return e } }
        return nil
    }
    public var checkpointMerges: [CheckpointMergeRecord] {
        records.compactMap { if case let .checkpointMerge(m) = $0 { m } else { nil } }
    }
    public var resumptions: [ResumedRecord] {
        records.compactMap { if case let .resumed(r) = $0 { r } else { nil } }
    }
    public var notes: [NoteRecord] {
        records.compactMap { if case let .note(n) = $0 { n } else { nil } }
    }

    public init(records: [LogRecord], warnings: [String] = []) {
        self.records = records
        self.warnings = warnings
    }

    public static func read(path: String) throws(RunFileError) -> AggregationLog {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotOpen(path: path, reason: "no such file (is this a run directory? runs are written to runs/<name>/)")
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(RunFileError) -> AggregationLog {
        let decoder = LogCoding.decoder()
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        let endsWithNewline = data.last == 0x0A
        if endsWithNewline { lines.removeLast() }
        var records: [LogRecord] = []
        var warnings: [String] = []
        for (i, line) in lines.enumerated() {
            let lineNumber = i + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
            do {
                let tag = try decoder.decode(EventTag.self, from: line)
                switch tag.event {
                case "run_start": records.append(.runStart(try decoder.decode(RunStartRecord.self, from: line)))
                case "round": records.append(.round(try decoder.decode(RoundRecord.self, from: line)))
                case "run_end": records.append(.runEnd(try decoder.decode(RunEndRecord.self, from: line)))
                case "checkpoint_merge": records.append(.checkpointMerge(try decoder.decode(CheckpointMergeRecord.self, from: line)))
                case "resumed": records.append(.resumed(try decoder.decode(ResumedRecord.self, from: line)))
                default: records.append(.note(try decoder.decode(NoteRecord.self, from: line)))
                }
            } catch {
                if i == lines.count - 1 && !endsWithNewline {
                    warnings.append("\(path):\(lineNumber): truncated last line skipped (the writer stopped mid-line)")
                } else {
                    throw .badLine(path: path, line: lineNumber, reason: "not a valid log record: \(LogCoding.explain(error))")
                }
            }
        }
        return AggregationLog(records: records, warnings: warnings)
    }

    private struct EventTag: Decodable { var event: String }
}

/// One JSON style for every run file: snake_case keys, sorted, so diffs of logs are readable.
enum LogCoding {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    static func explain(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, ctx):
            return "missing field '\(key.stringValue)'" + path(ctx)
        case let DecodingError.typeMismatch(type, ctx):
            return "field has the wrong type (expected \(type))" + path(ctx)
        case let DecodingError.valueNotFound(type, ctx):
            return "null where \(type) was expected" + path(ctx)
        case let DecodingError.dataCorrupted(ctx):
            return ctx.debugDescription + path(ctx)
        default:
            return "\(error)"
        }
    }

    private static func path(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.isEmpty ? "" : " at " + ctx.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
