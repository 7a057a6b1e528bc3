import Foundation
import Testing
import AviaryDashboard
import AviaryLog

/// The JSONL tail reader: incremental, torn lines held back, rewrites and removals noticed.
@Suite struct LogTailTests {
    @Test func linesAreHandedOutOnlyWhenTheirNewlineArrives() {
        var tail = JSONLTail()
        #expect(tail.consume(Data("{\"a\":1}\n{\"b\"".utf8)).map(\.number) == [1])
        #expect(tail.pending == Data("{\"b\"".utf8))
        #expect(tail.consume(Data(":2".utf8)).isEmpty)
        let lines = tail.consume(Data("}\n\n{\"c\":3}\n".utf8))
        #expect(lines.map(\.number) == [2, 3, 4])
        #expect(lines[0].bytes == Data("{\"b\":2}".utf8))
        #expect(tail.offset == 25 && tail.completeEnd == 25 && tail.pending.isEmpty)
    }

    @Test func aTornLastLineWaitsForItsNewline() throws {
        let dir = Fixtures.directory("torn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.run(in: dir, "a", [Fixtures.runStart("a"), Fixtures.round(1, accuracy: 0.5)])
        var run = WatchedRun(id: "a", directory: path)
        run.refresh(keepRecords: true)
        #expect(run.latest.lastRound?.round == 1)
        let next = try Fixtures.line(Fixtures.round(2, accuracy: 0.6))
        let log = RunDirectory(path: path).log
        try Fixtures.appendBytes(next.prefix(next.count / 2), to: log)
        let before = run.version
        run.refresh(keepRecords: true)
        #expect(run.latest.lastRound?.round == 1, "half a line must not be read as a record")
        #expect(run.problems.isEmpty, "a torn last line is not malformed: \(run.problems)")
        #expect(run.version == before)
        try Fixtures.appendBytes(next.suffix(from: next.count / 2), to: log)
        run.refresh(keepRecords: true)
        #expect(run.latest.lastRound?.round == 2)
        #expect(run.latest.lastEval?.cleanAccuracy == 0.6)
        #expect(run.records?.count == 3)
        #expect(run.version > before)
    }

    @Test func onlyTheAppendedBytesAreReadAgain() throws {
        let dir = Fixtures.directory("offset")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.run(in: dir, "a", [Fixtures.runStart("a"), Fixtures.round(1)])
        var run = WatchedRun(id: "a", directory: path)
        run.refresh(keepRecords: true)
        let offset = run.tail.offset
        #expect(RunLogFile.read(path: run.logPath, after: run.tail) == .appended(Data()))
        try Fixtures.append([Fixtures.round(2)], to: run.logPath)
        guard case let .appended(bytes) = RunLogFile.read(path: run.logPath, after: run.tail) else {
            Issue.record("expected appended bytes"); return
        }
        #expect(bytes == (try Fixtures.line(Fixtures.round(2))))
        run.refresh(keepRecords: true)
        #expect(run.tail.offset == offset + bytes.count)
    }

    @Test func aRunDirectoryRemovedWhileWatchedLeavesTheList() throws {
        let dir = Fixtures.directory("removed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.run(in: dir, "keep", [Fixtures.runStart("keep"), Fixtures.round(1)])
        let doomed = try Fixtures.run(in: dir, "doomed", [Fixtures.runStart("doomed")])
        var watched = WatchedRun(id: "doomed", directory: doomed)
        watched.refresh(keepRecords: true)
        var catalog = try RunCatalog(root: dir)
        #expect(catalog.refresh().map(\.id) == ["doomed", "keep"])
        try FileManager.default.removeItem(atPath: doomed)
        watched.refresh(keepRecords: true)
        #expect(watched.gone)
        #expect(RunLogFile.read(path: watched.logPath, after: watched.tail) == .missing)
        #expect(catalog.refresh().map(\.id) == ["keep"])
        #expect(catalog.runs["doomed"] == nil)
    }

    @Test func aMalformedLineIsNamedAndLaterRecordsStillRead() throws {
        let dir = Fixtures.directory("malformed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.run(in: dir, "bad", [Fixtures.runStart("bad")])
        try Fixtures.appendBytes(Data("{\"event\":\"round\",\"round\":\"two\"}\n".utf8), to: RunDirectory(path: path).log)
        try Fixtures.append([Fixtures.round(3, accuracy: 0.7)], to: RunDirectory(path: path).log)
        try Fixtures.run(in: dir, "good", [Fixtures.runStart("good"), Fixtures.round(1)])
        var catalog = try RunCatalog(root: dir)
        let rows = catalog.refresh()
        #expect(rows.map(\.id) == ["bad", "good"])
        let bad = try #require(rows.first)
        #expect(bad.problems.count == 1)
        #expect(bad.problems.first?.hasPrefix(RunDirectory(path: path).log + ":2: not a valid log record") == true, "\(bad.problems)")
        #expect(bad.round == 3 && bad.accuracy == 0.7)
        #expect(rows[1].problems.isEmpty && rows[1].round == 1)
    }

    /// A resume cuts the log (LogRepair) and appends on: the reader notices even when the
    /// file has grown back past the old offset, and reads it again.
    @Test func aLogCutAndRewrittenIsReadAgain() throws {
        let dir = Fixtures.directory("rewrite")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.run(in: dir, "a", [Fixtures.runStart("a"), Fixtures.round(1, accuracy: 0.1), Fixtures.round(2, accuracy: 0.2)])
        var run = WatchedRun(id: "a", directory: path)
        run.refresh(keepRecords: true)
        #expect(run.records?.count == 3)
        let log = run.logPath
        try FileManager.default.removeItem(atPath: log)
        try Fixtures.append([Fixtures.runStart("a"), Fixtures.round(1, accuracy: 0.9, padding: 3), Fixtures.round(2, accuracy: 0.8, padding: 3)], to: log)
        run.refresh(keepRecords: true)
        #expect(run.records?.count == 3)
        #expect(run.latest.lastEval?.cleanAccuracy == 0.8)
    }

    /// A long log is listed from its first and last lines, and read whole once its charts are asked for.
    @Test func aLongLogIsListedFromItsEndsThenReadWholeForCharts() throws {
        let dir = Fixtures.directory("long")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rounds = (1...300).map { Fixtures.round($0, accuracy: $0 % 10 == 0 ? Double($0) / 1000 : nil, padding: 40) }
        let path = try Fixtures.run(in: dir, "long", [Fixtures.runStart("long", rounds: 400)] + rounds)
        #expect((try FileManager.default.attributesOfItem(atPath: RunDirectory(path: path).log)[.size] as! Int) > 256 * 1024)
        var run = WatchedRun(id: "long", directory: path)
        run.refresh(keepRecords: false)
        #expect(run.records == nil)
        #expect(run.latest.runStart?.run == "long")
        #expect(run.latest.lastRound?.round == 300 && run.latest.lastEvalRound == 300)
        #expect(run.tail.lines == 301)
        try Fixtures.append([Fixtures.round(301)], to: run.logPath)
        run.refresh(keepRecords: false)
        #expect(run.latest.lastRound?.round == 301 && run.tail.lines == 302)
        run.refresh(keepRecords: true)
        #expect(run.records?.count == 302)
        #expect(run.log?.rounds.count == 301)
    }
}
