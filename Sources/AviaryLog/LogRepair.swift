#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Brings aggregation.jsonl back to the state a resume starts from: everything after the last
/// completed round `r` goes, so the resumed run's records follow round r's and no round is
/// logged twice. Cut, in file order, from the first of:
/// - the byte offset the run state recorded after round r (`RunState.log`), when given;
/// - a record tagged with a round > r (`round`, `checkpoint_merge`, notes with a `round`);
/// - a `run_end` (the interrupted run's own end);
/// - a torn last line: no trailing newline, or not parsable JSON.
/// The file is truncated at that line's byte offset and fsynced; bytes before it are never
/// rewritten. Nothing is appended: the caller logs a `resumed` record with `plan.cut`.
public enum LogRepair {
    public struct Plan: Sendable, Equatable {
        /// Bytes kept from the start of the file (a line boundary).
        public var keepBytes: Int
        public var originalBytes: Int
        /// Lines removed, in file order.
        public var cut: [LogCut]
        /// The last `round` record kept: the log's last completed round.
        public var lastRound: KeptRound?
        public var isClean: Bool { cut.isEmpty }

        /// One line for a person: what was cut, or that nothing was.
        public var summary: String {
            guard !cut.isEmpty else { return "log clean: nothing after the saved round" }
            var parts: [String] = []
            let rounds = cut.compactMap { $0.event == "round" ? $0.round : nil }
            if let first = rounds.first, let last = rounds.last {
                parts.append(first == last ? "round \(first)" : "rounds \(first)–\(last)")
            }
            let others = cut.filter { $0.event != "round" && $0.event != "torn_line" }
            if !others.isEmpty { parts.append("\(others.count) other record(s) (\(Set(others.map(\.event)).sorted().joined(separator: ", ")))") }
            if let torn = cut.last(where: { $0.event == "torn_line" }) { parts.append("a torn last line (\(torn.bytes) bytes)") }
            return "cut \(originalBytes - keepBytes) bytes: " + parts.joined(separator: ", ")
        }
    }

    /// What resume checks against the run state: the round, and its checkpoint as logged.
    public struct KeptRound: Sendable, Equatable, Decodable {
        public var round: Int
        public var checkpoint: String?
        public var checkpointBytes: Int?
        public var checkpointCrc32: String?
    }

    /// Decides the cut without touching the file. `position` is the state's record of the log
    /// after round r; it must lie on a line boundary with that many lines before it, and the
    /// last round record before it must be round r's: a state relabelled to another round
    /// (state.json's round and its vectors file renamed together) is refused, not resumed.
    public static func plan(_ data: Data, path: String, round: Int, position: LogPosition?) throws(RunFileError) -> Plan {
        let bytes = [UInt8](data)
        if let position {
            guard position.bytes <= bytes.count else {
                throw .mismatch(path: path, reason: "the log has \(bytes.count) bytes but the run state recorded \(position) "
                                + "after round \(round): records the state depends on are missing")
            }
            guard position.bytes == 0 || bytes[position.bytes - 1] == 0x0A else {
                throw .mismatch(path: path, reason: "the run state's position \(position) is not at the end of a line")
            }
            let lines = bytes[..<position.bytes].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            guard lines == position.records else {
                throw .mismatch(path: path, reason: "the first \(position.bytes) bytes hold \(lines) records, the run state recorded \(position.records)")
            }
        }
        let decoder = LogCoding.decoder()
        var cut: [LogCut] = []
        var keep = bytes.count
        var start = 0
        var lineNumber = 0
        var lastRound: KeptRound? = nil
        while start < bytes.count {
            lineNumber += 1
            let newline = bytes[start...].firstIndex(of: 0x0A)
            let end = newline.map { $0 + 1 } ?? bytes.count
            let body = Data(bytes[start..<(newline ?? bytes.count)])
            let isLast = end == bytes.count
            let tag = try? decoder.decode(Tag.self, from: body)
            let blank = body.allSatisfy { $0 == 0x20 || $0 == 0x0D }
            if cut.isEmpty {
                let afterState = position.map { start >= $0.bytes } ?? false
                let torn = isLast && (newline == nil || (tag == nil && !blank))
                let late = tag.map { $0.event == "run_end" || ($0.round ?? Int.min) > round } ?? false
                if !(afterState || torn || late) {
                    if tag == nil && !blank {
                        throw .badLine(path: path, line: lineNumber, reason: "not a valid log record, before the resume point (round \(round))")
                    }
                    if tag?.event == "round" { lastRound = try? decoder.decode(KeptRound.self, from: body) }
                    start = end
                    continue
                }
                keep = start
            }
            let event = tag?.event ?? (isLast ? "torn_line" : "unparsable")
            cut.append(LogCut(line: lineNumber, event: newline == nil ? "torn_line" : event, round: tag?.round, bytes: end - start))
            start = end
        }
        if position != nil && round > 0 && lastRound?.round != round {
            throw .mismatch(path: path, reason: "the run state says round \(round) is the last completed one, but the log's last "
                            + "completed round before the state's position is " + (lastRound.map { "\($0.round)" } ?? "none")
                            + "; the state does not belong to this log (edited or relabelled), so the run cannot resume from it")
        }
        return Plan(keepBytes: keep, originalBytes: bytes.count, cut: cut, lastRound: lastRound)
    }

    /// Reads the log at `path`, plans the cut and truncates the file there (then fsyncs it).
    /// A clean log is not opened for writing and stays byte for byte the same.
    @discardableResult
    public static func repair(path: String, round: Int, position: LogPosition?) throws(RunFileError) -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotOpen(path: path, reason: "no such file or not readable")
        }
        let plan = try plan(data, path: path, round: round, position: position)
        guard !plan.isClean else { return plan }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(plan.keepBytes)) == 0, fsync(fd) == 0 else {
            throw .cannotWrite(path: path, reason: "truncating to \(plan.keepBytes) bytes failed: \(String(cString: strerror(errno)))")
        }
        return plan
    }

    /// The fields that decide whether a line is cut.
    private struct Tag: Decodable {
        var event: String
        var round: Int?
    }
}
