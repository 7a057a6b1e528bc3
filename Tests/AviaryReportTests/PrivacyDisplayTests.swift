import Testing
import AviaryLog
import AviaryReport

/// ε where people look: `aviary logs` (a column), `aviary compare` (a column when any run had
/// DP), `aviary report` (a header fact), and the stop reason of `on_budget = "stop"`.
@Suite struct PrivacyDisplayTests {
    static func privateRound(_ r: Int, epsilon: Double?) -> LogRecord {
        guard case var .round(record) = LogTableTests.round(r) else { fatalError("not a round") }
        var p = PrivacyRoundRecord(mode: "central", epsilon: epsilon, delta: 1e-3, clipNorm: 0.1)
        if epsilon == nil { p.unaccounted = "fixed-size sampling" }
        record.privacy = p
        return .round(record)
    }

    static func log(_ epsilons: [Double?], stop: String? = nil) -> AggregationLog {
        var end = RunEndRecord(time: "t", roundsCompleted: epsilons.count, durationSeconds: 3, status: "completed", finalEval: nil)
        end.stopReason = stop
        return AggregationLog(records: [LogTableTests.start] + epsilons.enumerated().map { privateRound($0.offset + 1, epsilon: $0.element) }
                              + [.runEnd(end)])
    }

    @Test func logsShowEpsilonSoFarAndTheStopReason() {
        let text = LogTable.text(Self.log([0.5, 0.75], stop: "privacy budget: stopped after round 2"), directory: "runs/t")
        #expect(text.contains(LogTable.privacyHeader))
        #expect(text.contains("ε 0.500") && text.contains("ε 0.750"), "\(text)")
        #expect(text.contains("privacy budget: stopped after round 2"))
        let unaccounted = LogTable.text(Self.log([nil]), directory: "runs/t")
        #expect(unaccounted.contains("ε -"), "\(unaccounted)")
        let plain = LogTable.text(AggregationLog(records: [LogTableTests.start, LogTableTests.round(1)]), directory: "runs/t")
        #expect(!plain.contains("ε"))
    }

    /// `aviary logs --csv` and the exports' scalars carry ε, δ and S per round; empty without DP.
    @Test func csvCarriesEpsilon() {
        let rows = LogTable.csv(Self.log([0.5, nil])).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = rows[0]
        let e = header.firstIndex(of: "epsilon")!, d = header.firstIndex(of: "delta")!, s = header.firstIndex(of: "clip_norm")!
        #expect(header.last == "run_status")
        #expect(rows[1][e] == "0.5" && rows[1][d] == "0.001" && rows[1][s] == "0.1")
        #expect(rows[2][e] == "" && rows[2][d] == "0.001")
        let plain = LogTable.csv(AggregationLog(records: [LogTableTests.start, LogTableTests.round(1)])).split(separator: "\n")
        #expect(plain[1].split(separator: ",", omittingEmptySubsequences: false)[e] == "")
    }

    @Test func compareAndReportShowTheRunsEpsilon() {
        let dp = Self.log([0.5, 0.75]), plain = AggregationLog(records: [LogTableTests.start, LogTableTests.round(1), LogTableTests.end])
        #expect(FinalMetrics(log: dp, path: "a").epsilon == 0.75)
        let table = RunComparison(runs: [.init(path: "a", log: dp), .init(path: "b", log: plain)], metric: .cleanAccuracy).textTable()
        #expect(table.contains("epsilon") && table.contains("0.750"), "\(table)")
        #expect(!RunComparison(runs: [.init(path: "b", log: plain)], metric: .cleanAccuracy).textTable().contains("epsilon"))
        let html = RunReport(log: dp, source: "a").html()
        #expect(html.contains("central DP") && html.contains("0.750"))
    }

    /// Local DP: `aviary logs`' end line and `aviary report` give the per-client ε (fewest
    /// reports, median, most) from run_end.privacy.
    @Test func logsAndReportShowLocalDPsPerClientEpsilon() {
        var end = RunEndRecord(time: "t", roundsCompleted: 3, durationSeconds: 3, status: "completed", finalEval: nil)
        var p = PrivacyRunEndRecord(mode: "local", delta: 1e-3, epsilon: 2.5)
        p.byReports = [.init(reports: 1, clients: 5, epsilon: 0.75), .init(reports: 2, clients: 1, epsilon: 1.5),
                       .init(reports: 3, clients: 2, epsilon: 2.5)]
        p.participants = 8
        end.privacy = p
        let log = AggregationLog(records: [LogTableTests.start, Self.privateRound(1, epsilon: 2.5), .runEnd(end)])
        let text = LogTable.text(log, directory: "runs/t")
        #expect(text.contains("8 clients took part"), "\(text)")
        // 5 of 8 clients reported once: the median client is in the first group.
        #expect(text.contains("ε 0.750 (1 round: 5 clients) … median ε 0.750 (1 round: 5 clients) … ε 2.500 (3 rounds: 2 clients)"), "\(text)")
        #expect(RunReport(log: log, source: "a").html().contains("per-client ε"))
        end.privacy = PrivacyRunEndRecord(mode: "central", delta: 1e-3, epsilon: 2.5)
        let central = AggregationLog(records: [LogTableTests.start, Self.privateRound(1, epsilon: 2.5), .runEnd(end)])
        #expect(!LogTable.text(central, directory: "runs/t").contains("took part"))
    }
}
