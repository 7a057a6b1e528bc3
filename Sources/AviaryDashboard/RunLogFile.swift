import Foundation
import AviaryLog

/// Reads a run's `aggregation.jsonl` from where its `JSONLTail` stopped. Read-only: the
/// dashboard never writes into a run directory.
public enum RunLogFile {
    /// What one look at the file found.
    public enum Read: Sendable, Equatable {
        /// Bytes appended since the tail's offset (possibly none).
        case appended(Data)
        /// The file no longer holds what was read (a resume cut it, or it was replaced): read
        /// it again from the start.
        case rewritten
        /// The file (or its run directory) is gone.
        case missing
    }

    /// Reads what was appended after `tail.offset`. The tail's last complete line is read again
    /// and compared, so a log that was cut and has grown past the old offset is still noticed.
    public static func read(path: String, after tail: JSONLTail) -> Read {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return FileManager.default.fileExists(atPath: path) ? .appended(Data()) : .missing
        }
        defer { try? handle.close() }
        do {
            let size = Int(try handle.seekToEnd())
            if size < tail.offset { return .rewritten }
            let check = tail.completeEnd - tail.lastLine.count
            try handle.seek(toOffset: UInt64(max(0, check)))
            let data = try handle.readToEnd() ?? Data()
            guard check >= 0, data.count >= tail.offset - check else { return .rewritten }
            if data.prefix(tail.lastLine.count) != tail.lastLine { return .rewritten }
            // The held-back torn line is re-read with the rest rather than trusted.
            let pendingStart = tail.completeEnd - check
            guard data[data.startIndex + pendingStart..<data.startIndex + (tail.offset - check)] == tail.pending else { return .rewritten }
            return .appended(Data(data.dropFirst(tail.offset - check)))
        } catch {
            return FileManager.default.fileExists(atPath: path) ? .appended(Data()) : .missing
        }
    }

    /// The whole file, or nil when it is missing.
    public static func readAll(path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }
}
