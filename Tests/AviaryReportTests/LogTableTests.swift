import Testing
import AviaryLog
import AviaryReport

/// `aviary logs` formatting without processes: incomplete runs are labelled, resumes are shown.
@Suite struct LogTableTests {
    static func round(_ r: Int) -> LogRecord {
        .round(RoundRecord(round: r, time: "t", durationSeconds: 1, sampled: [0, 1], accepted: [0, 1], rejected: [], failed: [],
                           timedOut: [], weights: ["0": 0.5, "1": 0.5], clientMetrics: [:], updateNorm: 0.25,
                           eval: Evaluation(cleanAccuracy: 0.5, cleanLoss: 1, samples: 10), checkpoint: nil, modelKept: false))
    }
    static let start = LogRecord.runStart(RunStartRecord(
        run: "t", time: "t", aviaryVersion: "0", seeds: .init(partition: 1, sampling: 2, training: 3), rounds: 3, clients: 2,
        clientsPerRound: 2, model: "mlp", parameters: 10, strategy: "fedavg", dataset: "synthetic", partition: "iid",
        partitionStats: nil, notes: []))
    static let end = LogRecord.runEnd(RunEndRecord(time: "t", roundsCompleted: 3, durationSeconds: 3, status: "completed", finalEval: nil))

    @Test func runWithoutRunEndIsShownAsIncompleteWithTheResumeCommand() {
        let log = AggregationLog(records: [Self.start, Self.round(1), Self.round(2)])
        let text = LogTable.text(log, directory: "runs/t")
        let lines = text.split(separator: "\n").map(String.init)
        let status = "status: incomplete (no run_end: crashed or still running; resume with `aviary run --resume runs/t`)"
        #expect(lines.firstIndex(of: status) == lines.firstIndex(of: LogTable.header).map { $0 - 1 }, "\(text)")
        #expect(!text.contains("\nend:"))
        let csv = LogTable.csv(log).split(separator: "\n").map(String.init)
        #expect(csv[0].hasSuffix(",run_status"))
        #expect(csv.dropFirst().allSatisfy { $0.hasSuffix(",incomplete") } && csv.count == 3)
    }

    @Test func completedRunHasNoStatusLineAndCompletedColumn() {
        let log = AggregationLog(records: [Self.start, Self.round(1), Self.round(2), Self.round(3), Self.end])
        let text = LogTable.text(log, directory: "runs/t")
        #expect(!text.contains("incomplete") && text.hasSuffix("end: completed, 3 rounds in 3.0 s\n"))
        #expect(LogTable.csv(log, round: 2).split(separator: "\n").map(String.init).dropFirst() == [
            "2,2,2,0,0,0,0,0.5,1.0,,0.25,1.0,,,,false,,,,,,,,,,,,completed"])  // lost 0; sim_*, merged_* and privacy columns empty
        let failed = AggregationLog(records: [Self.start, .runEnd(RunEndRecord(time: "t", roundsCompleted: 0, durationSeconds: 1,
                                                                              status: "failed: no clients, registration timed out", finalEval: nil))])
        #expect(LogTable.csvStatus(failed) == "failed")
    }

    /// Logs with `persist_seconds` get the server's share of the wall time under the end line.
    @Test func serverOverheadCountsServerAndPersistSeconds() {
        func timed(_ r: Int, server: Double, persist: Double?) -> LogRecord {
            guard case var .round(record) = Self.round(r) else { return Self.round(r) }
            record.serverSeconds = server
            record.persistSeconds = persist
            return .round(record)
        }
        var end = RunEndRecord(time: "t", roundsCompleted: 3, durationSeconds: 10, status: "completed", finalEval: nil)
        end.persistSeconds = 0.05
        let log = AggregationLog(records: [Self.start, timed(1, server: 0.1, persist: nil), timed(2, server: 0.1, persist: 0.05),
                                           timed(3, server: 0.1, persist: 0.1), .runEnd(end)])
        let line = "server overhead: 0.30 s server_seconds + 0.20 s persist_seconds = 5.0 % of 10.0 s"
        #expect(LogTable.overheadLine(log) == line)
        #expect(LogTable.text(log, directory: "runs/t").hasSuffix("     " + line + "\n"))
        // Older logs (no persist_seconds) print no such line.
        #expect(LogTable.overheadLine(AggregationLog(records: [Self.start, Self.round(1), Self.end])) == nil)
    }

    @Test func resumeIsShownWhereItHappened() {
        let resumed = LogRecord.resumed(ResumedRecord(time: "t", fromRound: 1, cut: [LogCut(line: 5, event: "torn_line", round: nil, bytes: 30)],
                                                      reason: "aviary-server --resume"))
        let log = AggregationLog(records: [Self.start, Self.round(1), resumed, Self.round(2)])
        let lines = LogTable.text(log, directory: "runs/t").split(separator: "\n").map(String.init)
        let at = lines.firstIndex { $0.contains("resumed after round 1 (aviary-server --resume); cut from the log: line 5: torn_line (30 bytes)") }
        #expect(at != nil && lines[at! - 1].hasPrefix("    1 ") && lines[at! + 1].hasPrefix("    2 "), "\(lines)")
    }

    /// Every header label ends where its column's cells end, in the default table and in
    /// `--wide` (whose labels are longer than its cells), with every column filled.
    @Test func headerLabelsEndWhereTheirCellsEnd() {
        var r = RoundRecord(round: 12, time: "t", durationSeconds: 12.34, sampled: Array(0..<1000), accepted: Array(0..<999),
                            rejected: [ClientReason(client: 1, reason: "x")], failed: [], timedOut: [2], weights: [:], clientMetrics: [:], updateNorm: 12.5,
                            eval: Evaluation(cleanAccuracy: 0.8125, cleanLoss: 1.25, samples: 10), checkpoint: nil, modelKept: false)
        r.eval?.robustAccuracy = 0.5
        r.lost = [3]
        for (header, row) in [(LogTable.header, LogTable.row(r)), (LogTable.wideHeader, LogTable.wideRow(r))] {
            let h = Array(header), cells = Array(row)
            // A label ends where a non-space is followed by a space (or the header's end).
            let ends = h.indices.filter { h[$0] != " " && ($0 + 1 == h.count || h[$0 + 1] == " ") }
            for end in ends where end < cells.count {
                let words = h[..<(end + 1)].split(separator: " ")
                let label = words.last.map { String($0) } ?? ""
                if label == "min/mean" { continue }  // the fairness label sits over a self-describing cell
                let cellEnds: Bool = cells[end] != " " && (end + 1 == cells.count || cells[end + 1] == " ")
                #expect(cellEnds, "'\(label)' ends at column \(end):\n\(header)\n\(row)")
            }
        }
    }
}
