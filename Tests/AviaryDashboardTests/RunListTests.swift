import Foundation
import Testing
import AviaryDashboard
import AviaryLog

/// The run list: which directories are runs, and what each row says.
@Suite struct RunListTests {
    @Test func sweepFoldersAreSearchedAndLinksAreNotFollowed() throws {
        let dir = Fixtures.directory("discover")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.run(in: dir, "single", [Fixtures.runStart("single")])
        try Fixtures.run(in: dir + "/sweep", "s1", [Fixtures.runStart("s1")])
        try Fixtures.run(in: dir + "/sweep", "s2", [Fixtures.runStart("s2")])
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let outside = Fixtures.directory("outside")
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try Fixtures.run(in: outside, "secret", [Fixtures.runStart("secret")])
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: outside)
        #expect(RunCatalog.discover(root: dir).map(\.id) == ["single", "sweep/s1", "sweep/s2"])
        // A run directory given itself lists that run.
        #expect(RunCatalog.discover(root: dir + "/single").map(\.id) == ["single"])
    }

    @Test func aDirectoryWithoutRunsListsNothingAndAMissingOneIsNamed() throws {
        let dir = Fixtures.directory("none")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var catalog = try RunCatalog(root: dir)
        #expect(catalog.refresh().isEmpty)
        #expect(throws: DashboardError.noSuchDirectory(dir + "/nope")) { try RunCatalog(root: dir + "/nope") }
        try Data().write(to: URL(fileURLWithPath: dir + "/file"))
        #expect(throws: DashboardError.notADirectory(dir + "/file")) { try RunCatalog(root: dir + "/file") }
    }

    @Test func statusFollowsRunEnd() {
        func status(_ s: String?) -> RunStatus {
            RunStatus(s.map { RunEndRecord(time: "t", roundsCompleted: 1, durationSeconds: 1, status: $0, finalEval: nil) })
        }
        #expect(status(nil) == .running)
        #expect(status("completed") == .completed)
        #expect(status("failed: no round merged any update") == .failed)
        #expect(status("degraded: 6 of 10 rounds merged nothing") == .degraded)
    }

    @Test func aRowSummarisesTheRun() throws {
        let dir = Fixtures.directory("row")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config: [String: ConfigValue] = ["adversarial.mode": .string("pgd"), "adversarial.epsilon": .double(0.1),
                                             "evaluation.robust": .bool(true), "evaluation.epsilon": .double(0.3)]
        try Fixtures.run(in: dir, "a", [Fixtures.runStart("a", rounds: 3, config: config), Fixtures.round(1, accuracy: 0.4),
                                        Fixtures.round(2), Fixtures.runEnd("degraded: 1 of 2 rounds merged nothing", rounds: 2)])
        var catalog = try RunCatalog(root: dir)
        let row = try #require(catalog.refresh().first)
        #expect(row.status == .degraded && row.verdict == "degraded: 1 of 2 rounds merged nothing")
        #expect(row.round == 2 && row.rounds == 3)
        #expect(row.accuracy == 0.4 && row.accuracyRound == 1)
        #expect(row.epsilon == "train 0.1, eval 0.3")
        #expect(row.elapsedSeconds == 60)
        #expect(row.idleSeconds == nil)
    }
}
