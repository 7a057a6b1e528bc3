import Foundation
import AviaryLog

/// The incremental state of one append-only JSONL file: how far it has been read, the complete
/// lines found since, and a torn last line held back until its newline arrives (the server
/// writes each record with one `write`, so a reader can catch it half-way).
///
/// Pure: bytes in, lines out. `RunLogFile` does the reading.
public struct JSONLTail: Sendable, Equatable {
    /// One complete line (without its newline) and its 1-based number in the file.
    public struct Line: Sendable, Equatable {
        public var number: Int
        public var bytes: Data
    }

    /// Bytes taken from the file so far, the held-back torn line included.
    public private(set) var offset = 0
    /// Complete lines handed out so far.
    public private(set) var lines = 0
    /// The torn last line: bytes after the last newline.
    public private(set) var pending = Data()
    /// The last complete line, newline included: `RunLogFile` checks it is still there before
    /// reading on, so a log cut and rewritten by a resume is noticed even once it has grown back.
    public private(set) var lastLine = Data()

    public init() {}

    /// Where the complete lines end: the next read starts at `offset`, but a rewrite is
    /// detected by comparing the bytes before `completeEnd`.
    public var completeEnd: Int { offset - pending.count }

    /// Takes the next bytes of the file; returns the lines they complete.
    public mutating func consume(_ chunk: Data) -> [Line] {
        offset += chunk.count
        var out: [Line] = []
        var start = 0
        for newline in Self.newlines(in: chunk) {
            var line = pending
            line.append(chunk[chunk.startIndex + start..<chunk.startIndex + newline])
            pending = Data()
            lines += 1
            lastLine = line + [0x0A]
            out.append(Line(number: lines, bytes: line))
            start = newline + 1
        }
        pending.append(chunk[(chunk.startIndex + start)...])
        return out
    }

    /// Offsets of every newline in `data`, found with memchr: a byte-by-byte Collection scan of
    /// Data costs ~10× more, which a 200-run directory's first listing would feel.
    public static func newlines(in data: Data) -> [Int] {
        data.withUnsafeBytes { raw -> [Int] in
            guard let base = raw.baseAddress else { return [] }
            var found: [Int] = []
            var at = 0
            while at < raw.count, let hit = memchr(base + at, 0x0A, raw.count - at) {
                let offset = base.distance(to: UnsafeRawPointer(hit))
                found.append(offset)
                at = offset + 1
            }
            return found
        }
    }

    /// Starts over from the first byte (the file was cut or replaced).
    public mutating func reset() { self = JSONLTail() }

    /// Skips to `byte` (just after a newline) as if `lineCount` lines had been read: the
    /// listing's quick start over a long log, which decodes only its first and last lines.
    public mutating func skip(to byte: Int, lineCount: Int, lastLine: Data) {
        offset = byte; lines = lineCount; pending = Data(); self.lastLine = lastLine
    }
}

/// One line of `aggregation.jsonl` decoded, or why it could not be (named by file and line).
public enum DecodedLine: Sendable, Equatable {
    case record(LogRecord)
    case blank
    case malformed(String)

    public init(_ line: JSONLTail.Line, path: String) {
        if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { self = .blank; return }
        do {
            // AviaryLog's parser decodes every record kind; a whole line (newline included) is one record.
            let log = try AggregationLog.parse(line.bytes + [0x0A], path: path)
            self = log.records.first.map(DecodedLine.record) ?? .blank
        } catch let RunFileError.badLine(_, _, reason) {
            self = .malformed("\(path):\(line.number): \(reason)")
        } catch {
            self = .malformed("\(path):\(line.number): \(error)")
        }
    }
}
