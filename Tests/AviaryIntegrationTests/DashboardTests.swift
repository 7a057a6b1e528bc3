import Foundation
import Testing
import AviaryTestSupport
import AviaryLog

/// `aviary dashboard` as users run it: a real server process, a real browser, real run files.
@Suite(.serialized) struct DashboardTests {
    /// One finished run (5 rounds, evaluated every round) to copy into dashboards' directories.
    static let finished: String? = {
        let dir = Harness.temporaryDirectory("dashboard-source")
        let topo = dir + "/finished.toml"
        try? Harness.topology(name: "finished", output: dir, clients: 3, rounds: 5, processes: 1, epochs: 1)
            .write(toFile: topo, atomically: true, encoding: .utf8)
        guard let r = try? Harness.run("aviary", ["run", topo]), r.status == 0 else { return nil }
        return dir + "/finished"
    }()

    struct Dashboard {
        var process: Process
        var port: Int
        var token: String?
        var log: String
        var url: String { "http://127.0.0.1:\(port)/" }
        func stop() { if process.isRunning { process.terminate() }; process.waitUntilExit() }
    }

    /// Starts `aviary dashboard ARGS` and waits for the line naming its address.
    static func start(_ args: [String], log: String) throws -> Dashboard {
        let p = try Harness.start("aviary", ["dashboard"] + args, log: log)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("dashboard: http://") }),
               let url = URLComponents(string: String(line.dropFirst("dashboard: ".count).split(separator: " ")[0])), let port = url.port {
                return Dashboard(process: p, port: port, token: url.queryItems?.first { $0.name == "token" }?.value, log: log)
            }
            if !p.isRunning { throw DashboardTestError.exited(text) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        p.terminate()
        throw DashboardTestError.exited("no address printed: " + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
    }

    /// Every file under `dir` with its size and modification time: the dashboard must not change any.
    static func snapshot(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        guard let files = FileManager.default.enumerator(atPath: dir) else { return out }
        for case let path as String in files {
            let a = try? FileManager.default.attributesOfItem(atPath: dir + "/" + path)
            out[path] = "\(a?[.size] ?? 0) \(a?[.modificationDate] ?? 0)"
        }
        return out
    }

    /// A runs directory with the finished run and a "live" copy whose log stops after round 1;
    /// returns it and the finished log's lines not yet in the copy (round 2 first).
    static func runsWithALiveRun(_ name: String) throws -> (dir: String, rest: [Substring]) {
        let source = try #require(finished, "the source run did not complete")
        let dir = Harness.temporaryDirectory(name)
        try FileManager.default.copyItem(atPath: source, toPath: dir + "/finished")
        try FileManager.default.createDirectory(atPath: dir + "/live", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/topology.toml", toPath: dir + "/live/topology.toml")
        let text = try String(contentsOfFile: source + "/aggregation.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let firstRound = try #require(lines.firstIndex { $0.contains("\"event\":\"round\"") })
        try (lines[...firstRound].joined(separator: "\n") + "\n").write(toFile: dir + "/live/aggregation.jsonl", atomically: false, encoding: .utf8)
        return (dir, Array(lines[(firstRound + 1)...]))
    }

    static func append(_ line: Substring, to path: String) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data((line + "\n").utf8))
        try h.close()
    }

    /// Points of the clean-accuracy line in the single-run accuracy chart (each marker carries a tooltip naming its series).
    static let accuracyPoints = #"[...(document.querySelector('#charts figure[data-title^="Accuracy per round"]')?.querySelectorAll('circle > title') ?? [])].filter(t => t.textContent.startsWith('clean accuracy at ')).length"#

    @Test(.enabled(if: Prerequisite.enabled(ReportCommandTests.chromium != nil), "chromium is not installed (make test installs it)"))
    func theBrowserListsRunsAndAPlotGainsAPointWhenARoundIsAppended() throws {
        let browserPath = try #require(ReportCommandTests.chromium)
        let (dir, rest) = try Self.runsWithALiveRun("dashboard-browser")
        #expect(rest.prefix(2).allSatisfy { $0.contains("\"event\":\"round\"") })
        let before = Self.snapshot(dir)
        let dashboard = try Self.start([dir, "--port", "0"], log: dir + ".dashboard.log")
        defer { dashboard.stop() }
        let browser = try HeadlessBrowser(browser: browserPath, profile: dir + ".chromium")

        // The live run first: run_start and round 1 so far.
        try browser.open(dashboard.url + "?run=live")
        try browser.wait(for: "document.querySelectorAll('#runs tbody tr').length", timeout: 60, as: Int.self) { $0 == 2 }
        let statuses = try browser.evaluate("[...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.id + ' ' + r.querySelector('.status').textContent).join(',')") as? String
        #expect(statuses == "finished completed,live running")
        let first = try browser.wait(for: Self.accuracyPoints, timeout: 60, as: Int.self) { $0 > 0 }
        for line in rest.prefix(2) { try Self.append(line, to: dir + "/live/aggregation.jsonl") }
        let grown = try browser.wait(for: Self.accuracyPoints, timeout: 60, as: Int.self) { $0 > first }
        #expect(grown == first + 2, "two appended rounds, two more points")
        let round = try browser.wait(for: "document.querySelector('tr[data-id=\"live\"] td:nth-child(5)').textContent", timeout: 30, as: String.self) { $0 == "3/5" }
        #expect(round == "3/5")
        // No reload happened: the same page object saw both versions.
        #expect(try browser.evaluate("performance.getEntriesByType('navigation').length") as? Int == 1)

        // Both runs selected: the overlays draw one line per run.
        _ = try browser.evaluate("document.querySelector('tr[data-id=\"finished\"] input').click()")
        try browser.wait(for: "document.querySelector('#charts').dataset.version", timeout: 60, as: String.self) { $0.contains("finished") && $0.contains("live") }
        let png = try browser.screenshot()
        #expect(png.starts(with: [0x89, 0x50, 0x4e, 0x47]), "not a PNG")
        try png.write(to: URL(fileURLWithPath: dir + ".dashboard.png"))
        if let copy = ProcessInfo.processInfo.environment["AVIARY_DASHBOARD_SCREENSHOT"] { try png.write(to: URL(fileURLWithPath: copy)) }
        print("dashboard screenshot: \(dir).dashboard.png")

        for line in rest.dropFirst(2) { try Self.append(line, to: dir + "/live/aggregation.jsonl") }
        try browser.wait(for: "document.querySelector('tr[data-id=\"live\"] .status').textContent", timeout: 60, as: String.self) { $0 == "completed" }
        var after = Self.snapshot(dir)
        after["live/aggregation.jsonl"] = before["live/aggregation.jsonl"]
        #expect(after == before, "the dashboard changed files in the runs directory")
    }

    @Test func badInputIsNamedAndTheOtherRunsStayServed() throws {
        let (dir, _) = try Self.runsWithALiveRun("dashboard-bad")
        try FileManager.default.createDirectory(atPath: dir + "/broken", withIntermediateDirectories: true)
        let source = try #require(Self.finished)
        let good = try String(contentsOfFile: source + "/aggregation.jsonl", encoding: .utf8).split(separator: "\n")
        let round2 = try #require(good.first { $0.contains("\"event\":\"round\",") && $0.contains("\"round\":2,") })
        try ([good[0], "{\"event\":\"round\",\"round\":\"two\"}", round2].joined(separator: "\n") + "\n")
            .write(toFile: dir + "/broken/aggregation.jsonl", atomically: false, encoding: .utf8)
        let dashboard = try Self.start([dir, "--port", "0"], log: dir + ".dashboard.log")
        defer { dashboard.stop() }

        let list = try RawHTTP.get(port: dashboard.port, path: "/api/runs")
        #expect(list.status == 200)
        let runs = try #require((try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any])?["runs"] as? [[String: Any]])
        #expect(runs.map { $0["id"] as? String } == ["broken", "finished", "live"])
        let problems = runs[0]["problems"] as? [String] ?? []
        #expect(problems.count == 1 && problems[0].hasPrefix(dir + "/broken/aggregation.jsonl:2: not a valid log record"), "\(problems)")
        #expect(runs[0]["round"] as? Int == 2, "the lines after the malformed one are read")
        let charts = try RawHTTP.get(port: dashboard.port, path: "/api/charts?run=broken")
        #expect(charts.status == 200 && charts.body.contains("<svg"))

        // Paths outside the runs directory: no route serves files, and run ids are looked up, never joined to a path.
        for path in ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/charts?run=../../../../etc", "/api/charts?run=%2Fetc",
                     "/api/charts?run=finished/../../..", "/runs/finished/aggregation.jsonl"] {
            let r = try RawHTTP.get(port: dashboard.port, path: path)
            #expect(r.status == 404 || r.status == 400, "\(path): \(r.status)")
            #expect(!r.body.contains("root:") && !r.body.contains("run_start"), "\(path) leaked: \(r.body.prefix(200))")
        }

        // The same port again: a clear message and a failing exit code.
        let second = try Harness.run("aviary", ["dashboard", dir, "--port", String(dashboard.port)], timeout: 60)
        #expect(second.status != 0)
        #expect(second.output.contains("port \(dashboard.port) on 127.0.0.1 is in use"), "\(second.output)")

        // A directory without runs is served (runs appear as they start), with a warning; a missing one is refused.
        let empty = Harness.temporaryDirectory("dashboard-empty")
        let idle = try Self.start([empty, "--port", "0"], log: empty + ".log")
        defer { idle.stop() }
        #expect(try String(contentsOfFile: empty + ".log", encoding: .utf8).contains("warning: no runs under \(empty) yet"))
        let none = try RawHTTP.get(port: idle.port, path: "/api/runs")
        #expect(none.status == 200 && none.body.contains("no runs under"), "\(none.body)")
        let missing = try Harness.run("aviary", ["dashboard", empty + "/nope", "--port", "0"], timeout: 60)
        #expect(missing.status != 0 && missing.output.contains("\(empty)/nope: no such directory"), "\(missing.output)")
    }

    @Test func aNonLoopbackBindServesNothingWithoutTheToken() throws {
        let (dir, _) = try Self.runsWithALiveRun("dashboard-token")
        let made = try Self.start([dir, "--host", "0.0.0.0", "--port", "0"], log: dir + ".made.log")
        defer { made.stop() }
        let token = try #require(made.token, "a non-loopback bind prints a token")
        #expect(token.count == 32)
        for path in ["/", "/api/runs", "/api/charts?run=finished", "/?token=wrong", "/api/runs?token="] {
            let r = try RawHTTP.get(port: made.port, path: path)
            #expect(r.status == 401 && r.body.isEmpty, "\(path): \(r.status) \(r.body.prefix(100))")
        }
        #expect(try RawHTTP.get(port: made.port, path: "/?token=\(token)").status == 200)
        #expect(try RawHTTP.get(port: made.port, path: "/api/runs", headers: ["Authorization": "Bearer \(token)"]).body.contains("\"finished\""))

        let given = try Self.start([dir, "--host", "0.0.0.0", "--port", "0", "--token", "s3cret"], log: dir + ".given.log")
        defer { given.stop() }
        #expect(given.token == "s3cret")
        #expect(try RawHTTP.get(port: given.port, path: "/api/runs").status == 401)
        #expect(try RawHTTP.get(port: given.port, path: "/api/runs?token=s3cret").status == 200)
    }
}

enum DashboardTestError: Error, CustomStringConvertible {
    case exited(String)
    var description: String {
        switch self { case let .exited(log): "aviary dashboard did not start: \(log)" }
    }
}
