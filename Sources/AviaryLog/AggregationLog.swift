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
        encoder = LogCoding.logEncoder()
    }

    deinit { try? handle.close() }

    /// When false, `append` writes without fsync and `sync()` makes the records durable: the
    /// server's per-round records between durability points (docs/LOG.md, "Durability"). A
    /// kill -9 loses nothing either way.
    public var syncEachRecord = true

    /// fsyncs what has been appended.
    public func sync() throws(RunFileError) {
        do { try handle.synchronize() } catch { throw .cannotWrite(path: path, reason: "\(error)") }
    }

    public func append(_ record: LogRecord) throws(RunFileError) {
        var line: Data
        if case let .round(r) = record, let bytes = RoundRecordJSON.line(r) {
            // The per-round line, written without JSONEncoder: the same bytes (RoundRecordJSONTests).
            line = Data(bytes)
        } else {
            do {
                line = try Self.encoded(record, encoder: encoder)
            } catch {
                throw .cannotWrite(path: path, reason: "encoding failed: \(error)")
            }
        }
        line.append(0x0A)
        do {
            try handle.write(contentsOf: line)
            if syncEachRecord { try handle.synchronize() }
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        position.records += 1
        position.bytes += line.count
    }
}

extension AggregationLogWriter {
    /// A record as `JSONEncoder` writes it, non-finite numbers nulled: every record but the
    /// rounds `RoundRecordJSON` writes, and the reference those are tested against.
    static func encoded(_ record: LogRecord, encoder: JSONEncoder) throws -> Data {
        let line: Data
        switch record {
        case let .runStart(r): line = try encoder.encode(r)
        case let .round(r): line = try encoder.encode(r)
        case let .runEnd(r): line = try encoder.encode(r)
        case let .checkpointMerge(r): line = try encoder.encode(r)
        case let .resumed(r): line = try encoder.encode(r)
        case let .note(r): line = try encoder.encode(r)
        }
        return NonFiniteJSON.nulled(line)
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
                let line = NonFiniteJSON.decodable(line)
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

    /// The log's encoder: non-finite numbers become sentinels that `NonFiniteJSON.nulled` turns into `null`.
    static func logEncoder() -> JSONEncoder {
        let e = encoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: NonFiniteJSON.sentinel("inf"),
                                                                negativeInfinity: NonFiniteJSON.sentinel("-inf"),
                                                                nan: NonFiniteJSON.sentinel("nan"))
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

/// Non-finite numbers in `aggregation.jsonl` (an evaluation loss can overflow to inf): JSON has
/// no such numbers, so each is written as `null` and the record gains a `non_finite` object
/// naming the path and the value, e.g. `"non_finite":{"eval.clean_loss":"inf"}`. Reading turns
/// every bare `null` back into NaN (an optional field reads as NaN, not nil). Older logs wrote
/// the strings "nan", "inf" and "-inf"; the decoder still reads them.
enum NonFiniteJSON {
    static let prefix = "aviary.non_finite:"
    static func sentinel(_ value: String) -> String { prefix + value }

    /// `line` (one encoded record) with its sentinels replaced by `null` and the note added.
    static func nulled(_ line: Data) -> Data {
        let marker = Data(("\"" + prefix).utf8)
        guard line.range(of: marker) != nil,
              let tree = try? JSONSerialization.jsonObject(with: line) else { return line }
        var found: [String: String] = [:]
        collect(tree, path: "", into: &found)
        var text = String(decoding: line, as: UTF8.self)
        for value in ["inf", "-inf", "nan"] {
            text = text.replacingOccurrences(of: "\"" + sentinel(value) + "\"", with: "null")
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard text.first == "{", let note = try? e.encode(found) else { return Data(text.utf8) }
        return Data(("{\"non_finite\":" + String(decoding: note, as: UTF8.self) + "," + text.dropFirst()).utf8)
    }

    private static func collect(_ node: Any, path: String, into found: inout [String: String]) {
        if let s = node as? String, s.hasPrefix(prefix) {
            found[path] = String(s.dropFirst(prefix.count))
        } else if let d = node as? [String: Any] {
            for (k, v) in d { collect(v, path: path.isEmpty ? k : path + "." + k, into: &found) }
        } else if let a = node as? [Any] {
            for (i, v) in a.enumerated() { collect(v, path: path + "[\(i)]", into: &found) }
        }
    }

    /// `line` with every `null` outside a string replaced by `"nan"`, which the decoder reads as NaN.
    static func decodable(_ line: Data) -> Data {
        let null = Array("null".utf8)
        guard line.range(of: Data(null)) != nil else { return line }
        let bytes = Array(line)
        var out = [UInt8](), inString = false, escaped = false, i = 0
        out.reserveCapacity(bytes.count + 8)
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
            } else if b == 0x22 {
                inString = true
            } else if b == 0x6E, i + 4 <= bytes.count, Array(bytes[i..<i + 4]) == null {
                out += Array("\"nan\"".utf8)
                i += 4
                continue
            }
            out.append(b)
            i += 1
        }
        return Data(out)
    }
}
