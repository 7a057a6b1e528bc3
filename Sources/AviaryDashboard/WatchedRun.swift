import Foundation
import AviaryLog

/// One run directory under watch: its log read incrementally from the last offset, the run
/// list's summary kept current, and every record kept once a chart needs them.
public struct WatchedRun: Sendable {
    /// The run directory relative to the dashboard's runs directory.
    public let id: String
    public let directory: String
    public var logPath: String { RunDirectory(path: directory).log }

    public private(set) var tail = JSONLTail()
    public private(set) var latest = LatestRecords()
    /// Every record in file order; nil until `refresh(keepRecords: true)` (the list needs only
    /// the summary, so a long log is decoded whole only when its charts are opened).
    public private(set) var records: [LogRecord]?
    /// Malformed lines, newest last (at most `problemLimit`); the run stays listed.
    public private(set) var problems: [String] = []
    /// Grows whenever new records were read or the log was read again.
    public private(set) var version = 0
    /// The log (or the whole run directory) was removed.
    public private(set) var gone = false
    /// When the log last grew, as the file system says.
    public private(set) var modified: Date?

    static let problemLimit = 20
    /// A log longer than this is listed from its first and last lines only. 64 KiB, not more:
    /// a sweep's logs are about 250 KB each (100 clients, 10 per round, 50 rounds), and decoding
    /// 200 of them whole made the first listing 8.8 s on a loaded machine (`aviary bench dashboard`).
    static let quickStartBytes = 64 * 1024

    public init(id: String, directory: String) {
        self.id = id; self.directory = directory
    }

    /// The records read so far as a log (for the report's and comparison's charts).
    public var log: AggregationLog? { records.map { AggregationLog(records: $0) } }

    /// Reads what was appended since the last look. With `keepRecords` a summarised log is
    /// read once from the start so every record is at hand.
    public mutating func refresh(keepRecords: Bool) {
        if keepRecords && records == nil { restart(keepRecords: true) }
        switch RunLogFile.read(path: logPath, after: tail) {
        case .missing:
            gone = true
        case .rewritten:
            restart(keepRecords: records != nil)
            refresh(keepRecords: records != nil)
        case let .appended(bytes):
            gone = false
            if tail.offset == 0 && records == nil && bytes.count > Self.quickStartBytes {
                quickStart(bytes)
            } else if !bytes.isEmpty {
                take(tail.consume(bytes))
            }
            if !bytes.isEmpty {
                modified = (try? FileManager.default.attributesOfItem(atPath: logPath)[.modificationDate]) as? Date
            }
        }
    }

    private mutating func restart(keepRecords: Bool) {
        tail.reset()
        latest = LatestRecords()
        problems = []
        records = keepRecords ? [] : nil
        version += 1
    }

    private mutating func take(_ lines: [JSONLTail.Line]) {
        var changed = false
        for line in lines {
            switch DecodedLine(line, path: logPath) {
            case let .record(r):
                latest.apply(r)
                records?.append(r)
                changed = true
            case .blank:
                break
            case let .malformed(problem):
                problems.append(problem)
                if problems.count > Self.problemLimit { problems.removeFirst() }
                changed = true
            }
        }
        if changed { version += 1 }
    }

    /// A long log's first quick look: decodes the first line (run_start) and, from the end
    /// back, lines until the newest evaluated round; the lines between are skipped (their
    /// bytes were read, never decoded). Later appends are read on from the end as usual.
    private mutating func quickStart(_ bytes: Data) {
        let starts = [bytes.startIndex] + JSONLTail.newlines(in: bytes).map { bytes.startIndex + $0 + 1 }
        // starts.last is where the torn tail (possibly empty) begins.
        let complete = starts.count - 1
        guard complete >= 2 else { take(tail.consume(bytes)); return }
        func line(_ i: Int) -> JSONLTail.Line {
            JSONLTail.Line(number: i + 1, bytes: Data(bytes[starts[i]..<bytes.index(before: starts[i + 1])]))
        }
        var newest: [JSONLTail.Line] = []
        for i in stride(from: complete - 1, through: 1, by: -1) {
            let l = line(i)
            newest.insert(l, at: 0)
            if case let .record(.round(r)) = DecodedLine(l, path: logPath), r.eval != nil { break }
        }
        take([line(0)] + newest)
        let end = starts[complete] - bytes.startIndex
        tail.skip(to: end, lineCount: complete, lastLine: Data(bytes[starts[complete - 1]..<starts[complete]]))
        take(tail.consume(Data(bytes[starts[complete]...])))
    }
}
