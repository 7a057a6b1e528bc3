import Foundation
import AviaryDashboard
import AviaryLog
import AviaryMath

/// How long `aviary dashboard` takes to list a sweep (issue 26: a 200-run sweep directory lists
/// in under a second). It writes a sweep of realistic logs into a temporary directory and times
/// what the page's `GET /api/runs` does: find the runs, read each log (from its start, or its
/// first line and its tail past 64 KiB) and encode the rows as JSON. Run by `aviary bench
/// dashboard`; tests assert no timings.
///
/// The logs are shaped as the lead's sweeps write them: run_start with a 100-client partition
/// summary and the resolved config, 10 of 100 clients per round with their metrics and
/// traffic, an evaluation every 5 rounds, run_end; 1 run in 10 is still running, 1 in 20 failed.
/// Each shape is written once through the server's log writer and copied (the listing reads the
/// same bytes however they were made). The files were just written, so they are in the page
/// cache: the figures are for a sweep on a local disk read recently, not a cold network mount.
public enum DashboardBench {
    /// Repetitions per measurement; the median is reported.
    public static let repetitions = 5
    /// Issue 26's target for listing the whole sweep.
    public static let targetSeconds = 1.0

    public struct Measured: Sendable {
        public var runs: Int
        public var bytes: Int
        /// A fresh catalog: every log opened and read (the page's first load).
        public var firstListing: Double
        /// The CPU time of that listing (on a loaded machine the wall time is mostly waiting).
        public var firstListingCPU: Double
        /// The 1-minute load average when the measurement ended.
        public var loadAverage: Double
        /// The same catalog again with nothing appended (each poll of the open page).
        public var nextListing: Double
        /// After one round was appended to every running run.
        public var listingAfterAppend: Double
    }

    public static func run(runs: Int = 200, rounds: Int = 50) throws -> String {
        let m = try measure(runs: runs, rounds: rounds)
        func ms(_ s: Double) -> String { String(format: "%8.1f ms", s * 1e3) }
        let verdict = m.firstListing < targetSeconds ? "within" : "OVER"
        return """
        dashboard run list: \(m.runs) runs of \(rounds) rounds (\(m.bytes / 1_000_000) MB of logs, page cache warm), median of \(repetitions), \
        load average \(String(format: "%.1f", m.loadAverage)) on \(ProcessInfo.processInfo.activeProcessorCount) cores:
          first listing (every log read, rows as JSON)            \(ms(m.firstListing))   target < \(Int(targetSeconds * 1e3)) ms: \(verdict)
            of which CPU time (the rest waited for a core)        \(ms(m.firstListingCPU))
          next listing (the page's poll, nothing appended)        \(ms(m.nextListing))
          listing after a round was appended to every running run \(ms(m.listingAfterAppend))

        """
    }

    public static func measure(runs: Int, rounds: Int) throws -> Measured {
        let root = NSTemporaryDirectory() + "aviary-dashboard-bench-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/.templates", withIntermediateDirectories: true)
        var rng = RandomStream(seed: 26, purpose: .other, index: 0)
        let completed = try template(root + "/.templates/completed", planned: rounds, written: rounds, end: "completed", rng: &rng)
        let running = try template(root + "/.templates/running", planned: rounds, written: rounds / 2, end: nil, rng: &rng)
        let failed = try template(root + "/.templates/failed", planned: rounds, written: 3,
                                  end: "failed: no responsive clients left at round 4", rng: &rng)
        var runningLogs: [String] = []
        var bytes = 0
        for i in 0..<runs {
            // Sweep folders of 20 settings × seeds, as `aviary sweep` names them.
            let dir = root + "/sweep-\(i / 20)/penalty=\(Double(i % 10) / 2),seed=\(i % 20 / 10 + 1)"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let source = i % 20 == 19 ? failed : i % 10 == 9 ? running : completed
            let log = RunDirectory(path: dir).log
            try fm.copyItem(atPath: source, toPath: log)
            if source == running { runningLogs.append(log) }
            bytes += (try? fm.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        func list(_ catalog: inout RunCatalog) throws -> Int {
            let rows = catalog.refresh()
            _ = try encoder.encode(rows)
            return rows.count
        }
        var first: [Double] = [], firstCPU: [Double] = [], next: [Double] = [], appended: [Double] = []
        for r in 0..<repetitions {
            var catalog = try RunCatalog(root: root)
            var listed = 0
            let cpuBefore = threadCPUSeconds()
            first.append(try seconds { listed = try list(&catalog) })
            firstCPU.append(threadCPUSeconds() - cpuBefore)
            guard listed == runs else { throw BenchError.listed(expected: runs, got: listed, root: root) }
            next.append(try seconds { _ = try list(&catalog) })
            let line = try roundLine(rounds / 2 + 1 + r, rng: &rng)
            for log in runningLogs {
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
                try h.seekToEnd()
                try h.write(contentsOf: line)
                try h.close()
            }
            appended.append(try seconds { _ = try list(&catalog) })
        }
        var load = [0.0, 0.0, 0.0]
        _ = getloadavg(&load, 3)
        return Measured(runs: runs, bytes: bytes, firstListing: median(first), firstListingCPU: median(firstCPU), loadAverage: load[0],
                        nextListing: median(next), listingAfterAppend: median(appended))
    }

    enum BenchError: Error, CustomStringConvertible {
        case listed(expected: Int, got: Int, root: String)
        var description: String {
            switch self {
            case let .listed(expected, got, root): "the dashboard listed \(got) of the \(expected) runs written under \(root)"
            }
        }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// CPU seconds the calling thread has used (the listing runs on it).
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// One run's log at `path` through the server's writer: run_start for `planned` rounds,
    /// `written` rounds, run_end (none when `end` is nil: a run still going).
    static func template(_ path: String, planned: Int, written: Int, end: String?, rng: inout RandomStream) throws -> String {
        let writer = try AggregationLogWriter(path: path)
        try writer.append(.runStart(runStart(rounds: planned, rng: &rng)))
        for r in 0..<written { try writer.append(.round(round(r + 1, rng: &rng))) }
        if let end {
            try writer.append(.runEnd(RunEndRecord(time: time(written * 18 + 1), roundsCompleted: written,
                                                   durationSeconds: Double(written) * 18, status: end, finalEval: nil)))
        }
        return path
    }

    static func time(_ second: Int) -> String {
        String(format: "2026-12-06T%02d:%02d:%02d.000Z", 8 + second / 3600, second / 60 % 60, second % 60)
    }

    static func runStart(rounds: Int, rng: inout RandomStream) -> RunStartRecord {
        let counts = (0..<100).map { _ in 100 + rng.nextInt(below: 900) }
        let histograms = counts.map { n in (0..<10).map { _ in rng.nextInt(below: n / 5 + 1) } }
        var s = RunStartRecord(run: "penalty-seed", time: time(0), aviaryVersion: "bench", seeds: .init(partition: 1, sampling: 2, training: 3),
                               rounds: rounds, clients: 100, clientsPerRound: 10, model: "mlp", parameters: 199_210, strategy: "mwa",
                               dataset: "fashion-mnist", partition: "dirichlet",
                               partitionStats: PartitionSummary(counts: counts, labelHistograms: histograms, meanTotalVariation: 0.61),
                               notes: ["dirichlet α=0.3 over 100 clients"])
        var config: [String: ConfigValue] = [:]
        for section in ["adversarial", "data", "evaluation", "merge", "model", "processes", "run", "seeds", "server", "train"] {
            for k in 0..<12 { config["\(section).key_\(k)"] = k % 3 == 0 ? .string("value-\(k)") : .double(Double(k) * 0.25) }
        }
        config["merge.strategy"] = .string("mwa")
        s.config = config
        s.runId = "run-" + String(repeating: "0123456789abcdef", count: 2)
        return s
    }

    static func round(_ r: Int, rng: inout RandomStream) -> RoundRecord {
        var clients = Set<Int>()
        while clients.count < 10 { clients.insert(rng.nextInt(below: 100)) }
        let sampled = clients.sorted()
        var metrics: [Int: [String: Double]] = [:]
        var traffic: [Int: ClientTraffic] = [:]
        for c in sampled {
            let n = Double(100 + rng.nextInt(below: 900))
            metrics[c] = ["adv_accuracy": rng.nextDouble(), "adv_loss": 1 + rng.nextDouble(), "dataset_size": n,
                          "global_val_accuracy": rng.nextDouble(), "global_val_loss": 2 * rng.nextDouble(),
                          "local_steps": (n / 32).rounded(.up), "samples": n, "train_accuracy": rng.nextDouble(),
                          "train_loss": 1 + rng.nextDouble(), "val_accuracy": rng.nextDouble(), "val_loss": 1 + rng.nextDouble()]
            traffic[c] = ClientTraffic(bytesUp: 797_205, bytesDown: 318_770)
        }
        let weights = Dictionary(uniqueKeysWithValues: sampled.map { ($0, 0.1) })
        var record = RoundRecord(round: r, time: time(r * 18), durationSeconds: 18, sampled: sampled, accepted: sampled,
                                 rejected: [], failed: [], timedOut: [], weights: RoundRecord.byClient(weights),
                                 clientMetrics: RoundRecord.byClient(metrics), updateNorm: rng.nextDouble(),
                                 eval: r % 5 == 0 ? Evaluation(cleanAccuracy: 0.6 + 0.2 * rng.nextDouble(), cleanLoss: 1, samples: 10_000,
                                                               robustAccuracy: 0.3 * rng.nextDouble()) : nil,
                                 checkpoint: "checkpoints/round-\(String(format: "%04d", r)).safetensors", modelKept: false)
        record.bytesSent = 3_187_696; record.bytesReceived = 7_972_062
        record.clientTraffic = RoundRecord.byClient(traffic)
        return record
    }

    /// One round's line exactly as the writer appends it.
    static func roundLine(_ r: Int, rng: inout RandomStream) throws -> Data {
        let path = NSTemporaryDirectory() + "aviary-dashboard-bench-line-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AggregationLogWriter(path: path).append(.round(round(r, rng: &rng)))
        return FileManager.default.contents(atPath: path) ?? Data()
    }
}
