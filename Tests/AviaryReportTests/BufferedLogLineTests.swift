import Foundation
import Testing
import AviaryLog
import AviaryReport

/// `aviary logs` on a buffered run: one summary line per server update under its round's row.
@Suite struct BufferedLogLineTests {
    @Test func eachServerUpdateGetsALineWithVersionClockAndStaleness() {
        guard case var .round(r) = LogTableTests.round(3) else { Issue.record("not a round"); return }
        var system = SystemRoundRecord(roundSeconds: 2, clockSeconds: 42.125, offline: [], stragglers: [])
        system.buffered = BufferedUpdateRecord(version: 3, clockSeconds: 42.125, updates: [
            BufferedUpdateEntry(client: 0, startVersion: 2, arrival: 40, staleness: 0, discount: 1, weight: 0.5),
            BufferedUpdateEntry(client: 1, startVersion: 1, arrival: 42.125, staleness: 1, discount: 0.5.squareRoot(), weight: 0.35),
            BufferedUpdateEntry(client: 4, startVersion: 2, arrival: 41, staleness: 0, discount: 1, missing: "no update"),
        ], discarded: [BufferedUpdateEntry(client: 2, startVersion: 0, arrival: 41.5, staleness: 2, discount: 0.577)])
        r.system = system
        let plain = LogTable.bufferedLine(LogTableTests.round(1).roundRecord!)
        #expect(plain == nil)
        #expect(LogTable.bufferedLine(r) == "v3 at sim 42.1s: 2 updates, staleness mean 0.50 max 1, discount min 0.707; 1 missing; 1 discarded (staleness 2)")
        let log = AggregationLog(records: [LogTableTests.start, .round(r), LogTableTests.end])
        let lines = LogTable.text(log, directory: "runs/t").split(separator: "\n").map(String.init)
        let at = lines.firstIndex { $0.hasPrefix("       v3 at sim 42.1s") }
        #expect(at != nil && lines[at! - 1].hasPrefix("    3 "), "\(lines)")
        // On the wall clock the time is wall seconds since the run started, and the line says so.
        r.system!.buffered!.clock = "wall"
        #expect(LogTable.bufferedLine(r)?.hasPrefix("v3 at wall 42.1s: 2 updates") == true)
        let json = String(decoding: try! JSONEncoder().encode(r.system!.buffered!), as: UTF8.self)
        #expect(json.contains("\"clock\":\"wall\""), "\(json)")
        r.system!.buffered!.clock = nil
        #expect(!String(decoding: try! JSONEncoder().encode(r.system!.buffered!), as: UTF8.self).contains("\"clock\":"), "absent on the simulated clock")
    }
}

extension LogRecord {
    var roundRecord: RoundRecord? { if case let .round(r) = self { r } else { nil } }
}
