import Foundation
import AviaryReport
import AviaryLog
import AviaryTopology

/// Runs a sweep's pending runs, up to `parallel` at once, each through `ProcessLauncher` exactly
/// as `aviary run` would, and keeps `sweep.json` current (rewritten atomically as runs start
/// and end). Ctrl-C stops every running launch's children; runs not started stay `pending`.
final class SweepRunner: @unchecked Sendable {
    // @unchecked: `index`, `next` and output go through `lock`; the rest is immutable.
    let setup: SweepSetup
    let parallel: Int
    let binDirectory: String
    private let lock = NSLock()
    private var index: SweepIndex
    private var queue: [Int]
    private var finished = 0

    init(setup: SweepSetup, parallel: Int, binDirectory: String) {
        self.setup = setup; self.parallel = parallel; self.binDirectory = binDirectory
        let initial = setup.initialIndex(parallel: parallel)
        index = initial
        queue = initial.runs.indices.filter { initial.runs[$0].status != "completed" }
    }

    /// True when every run of the sweep has completed (now or before).
    func run() throws -> Bool {
        do {
            try FileManager.default.createDirectory(atPath: setup.directory, withIntermediateDirectories: true)
        } catch {
            throw SweepError.cannotCreate(path: setup.directory, reason: ErrorReason.of(error))
        }
        try index.write(to: setup.indexPath)
        let total = queue.count
        let group = DispatchGroup()
        for _ in 0..<min(parallel, total) {
            group.enter()
            let worker = Thread { [self] in
                while let i = take() { execute(i, of: total) }
                group.leave()
            }
            worker.start()
        }
        group.wait()
        return summarise()
    }

    private func take() -> Int? {
        lock.withLock {
            guard interruptRequested == 0, !queue.isEmpty else { return nil }
            let i = queue.removeFirst()
            index.runs[i].status = "running"
            index.runs[i].error = nil
            writeIndex()
            return i
        }
    }

    private func execute(_ i: Int, of total: Int) {
        let topology = setup.topologies[i]
        let dir = RunDirectory(path: topology.output + "/" + topology.name)
        let mode: ProcessLauncher.Mode
        if case .absent = setup.existing[i], mkdir(dir.path, 0o755) == 0 {
            mode = .fresh(topologyPath: setup.file)
        } else {
            // Ours to replace: an incomplete run of this sweep (a completed one is never queued).
            mode = .overwrite(topologyPath: setup.file)
        }
        report("start \(topology.name)")
        var launcher = ProcessLauncher(topology: topology, mode: mode, binDirectory: binDirectory)
        launcher.overrides = setup.overrides[i]
        launcher.quiet = true
        let started = Date()
        var status = "completed"
        var error: String? = nil
        do {
            let outcome = try launcher.run()
            if !outcome.lost.isEmpty {
                status = "failed"
                error = "lost " + outcome.lost.joined(separator: "; ")
            } else if let end = (try? AggregationLog.read(path: dir.log))?.runEnd, end.status != "completed" {
                status = "failed"
                error = "run_end status \(end.status)"
            }
        } catch LaunchError.interrupted {
            status = "interrupted"
            error = "stopped by Ctrl-C or SIGTERM"
        } catch let e {
            status = "failed"
            error = String("\(e)".split(separator: "\n").first ?? "")
        }
        let wall = Date().timeIntervalSince(started)
        lock.withLock {
            index.runs[i].status = status
            index.runs[i].wallSeconds = wall
            index.runs[i].error = error
            finished += 1
            writeIndex()
        }
        let result = status == "completed" ? Self.finalMetrics(dir.log) : ": " + (error ?? "")
        report("[\(lock.withLock { finished })/\(total)] \(topology.name): \(status) in \(RunSummary.duration(wall))\(result)")
    }

    /// `, accuracy 0.7018, robust 0.4370` from the run's log.
    static func finalMetrics(_ logPath: String) -> String {
        guard let e = (try? AggregationLog.read(path: logPath))?.runEnd?.finalEval else { return "" }
        return String(format: ", accuracy %.4f", e.cleanAccuracy) + (e.robustAccuracy.map { String(format: ", robust %.4f", $0) } ?? "")
    }

    /// Call with `lock` held.
    private func writeIndex() {
        index.updated = ISO8601DateFormatter().string(from: Date())
        do { try index.write(to: setup.indexPath) } catch {
            FileHandle.standardError.write(Data("warning: \(error)\n".utf8))
        }
    }

    private func report(_ line: String) { lock.withLock { say(line) } }

    /// The table at the end; true when every run completed.
    private func summarise() -> Bool {
        let runs = lock.withLock { index.runs }
        let width = max(3, runs.map(\.name.count).max() ?? 3)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        say("")
        say(pad("run", width) + "  " + pad("status", 11) + "  " + pad("wall", 12) + "  result")
        for r in runs {
            let result = r.status == "completed" ? String(Self.finalMetrics(r.directory + "/aggregation.jsonl").dropFirst(2)) : (r.error ?? "")
            say(pad(r.name, width) + "  " + pad(r.status, 11) + "  " + pad(r.wallSeconds.map { RunSummary.duration($0) } ?? "-", 12) + "  " + result)
        }
        let bad = runs.filter { $0.status != "completed" }
        let counts = Dictionary(grouping: runs, by: \.status).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        say("sweep \(setup.sweepName): \(counts); index \(setup.indexPath)")
        if !bad.isEmpty {
            FileHandle.standardError.write(Data(("error: \(plural(bad.count, "run")) did not complete (run the same command again to retry them):\n  "
                + bad.map { r in r.status == "pending" ? "\(r.name): not started"
                    : "\(r.name): \(r.status)" + (r.error.map { " (\($0))" } ?? "") + "; logs in \(r.directory)/logs" }
                    .joined(separator: "\n  ") + "\n").utf8))
        }
        return bad.isEmpty
    }
}
