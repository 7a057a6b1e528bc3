import Foundation
import Testing
import AviaryTestSupport
import AviaryLog

/// `aviary report` and `aviary compare` on a real (tiny) run, as users call them.
@Suite(.serialized) struct ReportCommandTests {
    /// Two finished runs of different lengths in one output directory.
    static let runs: (dir: String, results: [Harness.Result])? = {
        let dir = Harness.temporaryDirectory("report")
        var results: [Harness.Result] = []
        for (name, rounds) in [("short", 2), ("long", 3)] {
            let topo = dir + "/\(name).toml"
            try? Harness.topology(name: name, output: dir, clients: 3, rounds: rounds, processes: 1, epochs: 1)
                .write(toFile: topo, atomically: true, encoding: .utf8)
            guard let result = try? Harness.run("aviary", ["run", topo]) else { return nil }
            results.append(result)
        }
        return (dir, results)
    }()

    @Test func reportWritesOneSelfContainedPage() throws {
        let runs = try #require(Self.runs)
        for r in runs.results { #expect(r.status == 0, "\(r.output)") }
        let out = try Harness.run("aviary", ["report", runs.dir + "/long"])
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("report: \(runs.dir)/long/report.html"))
        let html = try String(contentsOfFile: runs.dir + "/long/report.html", encoding: .utf8)
        let log = try AggregationLog.read(path: runs.dir + "/long/aggregation.jsonl")
        #expect(html.contains("Run long"))
        #expect(html.contains("\(log.rounds.count) of 3"))
        #expect(!html.contains("<script") && !html.contains("src="))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 6)

        let custom = runs.dir + "/custom.html"
        #expect(try Harness.run("aviary", ["report", runs.dir + "/short/aggregation.jsonl", "-o", custom]).status == 0)
        #expect(FileManager.default.fileExists(atPath: custom))
    }

    /// Debian's headless browser, to look at the pages as a user would.
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A screenshot of `page` (PNG bytes), from a fresh browser profile.
    static func screenshot(_ page: String, browser: String, in dir: String) throws -> Data {
        let png = page + ".png"
        let out = try Harness.run((browser as NSString).lastPathComponent, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(dir)/chromium-profile",
            "--screenshot=\(png)", "--window-size=1200,900", URL(fileURLWithPath: page).absoluteString,
        ], timeout: 120, bin: (browser as NSString).deletingLastPathComponent)
        #expect(out.status == 0, "\(out.output)")
        return try Data(contentsOf: URL(fileURLWithPath: png))
    }

    /// The report and comparison pages render to something visibly richer than a blank page
    /// (charts, heatmaps, tables): their PNGs are over five times a blank page's (a 1200×900 white page is ~5 kB, the tiny comparison ~45 kB).
    @Test(.enabled(if: Prerequisite.enabled(chromium != nil), "chromium is not installed (make test installs it)"))
    func reportAndComparisonRenderInABrowser() throws {
        let browser = try #require(Self.chromium, "chromium is not installed (make test installs it)")
        let runs = try #require(Self.runs)
        let blank = runs.dir + "/blank.html", report = runs.dir + "/rendered-report.html", compare = runs.dir + "/rendered-compare.html"
        try "<!DOCTYPE html><html><body></body></html>\n".write(toFile: blank, atomically: true, encoding: .utf8)
        #expect(try Harness.run("aviary", ["report", runs.dir + "/long", "-o", report]).status == 0)
        #expect(try Harness.run("aviary", ["compare", runs.dir + "/short", runs.dir + "/long", "-o", compare]).status == 0)
        let empty = try Self.screenshot(blank, browser: browser, in: runs.dir)
        #expect(empty.starts(with: [0x89, 0x50, 0x4e, 0x47]), "not a PNG")
        for page in [report, compare] {
            let png = try Self.screenshot(page, browser: browser, in: runs.dir)
            #expect(png.starts(with: [0x89, 0x50, 0x4e, 0x47]), "\(page): not a PNG")
            #expect(png.count > 5 * empty.count, "\(page) renders nearly blank: \(png.count) bytes, blank page \(empty.count)")
        }
    }

    @Test func compareTablesTheLogsFinalEvaluation() throws {
        let runs = try #require(Self.runs)
        let page = runs.dir + "/compare.html"
        let out = try Harness.run("aviary", ["compare", runs.dir + "/short", runs.dir + "/long", "-o", page, "--metric", "clean_loss"])
        #expect(out.status == 0, "\(out.output)")
        #expect(FileManager.default.fileExists(atPath: page))
        let lines = out.output.split(separator: "\n").map(String.init)
        for (name, rounds) in [("short", 2), ("long", 3)] {
            let log = try AggregationLog.read(path: runs.dir + "/\(name)/aggregation.jsonl")
            let final = try #require(log.runEnd?.finalEval)
            let row = try #require(lines.first { $0.hasPrefix(name + " ") }, "no row for \(name) in:\n\(out.output)")
            let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(cells[1] == String(rounds))
            #expect(cells[4] == String(format: "%.4f", final.cleanAccuracy), "\(row)")
            #expect(cells[5] == String(format: "%.4f", final.cleanLoss), "\(row)")
            #expect(cells.last == "completed")
        }
    }

    @Test func compareNamesAMissingLog() throws {
        let runs = try #require(Self.runs)
        let missing = runs.dir + "/nope"
        let out = try Harness.run("aviary", ["compare", runs.dir + "/long", missing, "-o", runs.dir + "/x.html"])
        #expect(out.status != 0)
        #expect(out.output.contains("cannot open \(missing)/aggregation.jsonl"), "\(out.output)")
        #expect(!FileManager.default.fileExists(atPath: runs.dir + "/x.html"))

        let broken = runs.dir + "/broken"
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        try "{\"event\":\"round\"}\n{}\n".write(toFile: broken + "/aggregation.jsonl", atomically: true, encoding: .utf8)
        let bad = try Harness.run("aviary", ["report", broken])
        #expect(bad.status != 0)
        #expect(bad.output.contains("\(broken)/aggregation.jsonl:1:"), "\(bad.output)")
    }

    @Test func compareAgainstSimulatedTimeNamesARunWithoutAClock() throws {
        let runs = try #require(Self.runs)
        let page = runs.dir + "/simulated.html"
        let out = try Harness.run("aviary", ["compare", runs.dir + "/short", runs.dir + "/long", "--x-axis", "simulated", "-o", page])
        #expect(out.status != 0)
        #expect(out.output.contains("\(runs.dir)/short has no simulated clock"), "\(out.output)")
        #expect(!FileManager.default.fileExists(atPath: page))
        let unknown = try Harness.run("aviary", ["compare", runs.dir + "/short", "--x-axis", "time"])
        #expect(unknown.status != 0 && unknown.output.contains("round, simulated"), "\(unknown.output)")
    }

    @Test func compareRejectsAnUnknownMetric() throws {
        let out = try Harness.run("aviary", ["compare", "runs/a", "--metric", "accuracy"])
        #expect(out.status != 0)
        #expect(out.output.contains("clean_accuracy, clean_loss, robust_accuracy"), "\(out.output)")
    }
}
