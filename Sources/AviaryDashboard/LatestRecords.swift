import Foundation
import AviaryLog
import AviaryReport

/// A run's status as the dashboard lists it. `running` is a log without `run_end` (the server
/// may also have died without writing one; `RunRow.idleSeconds` tells how long it has been quiet).
/// The other three follow `run_end.status` as docs/LOG.md defines it.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed, failed, degraded

    public init(_ end: RunEndRecord?) {
        guard let end else { self = .running; return }
        if end.status == "completed" { self = .completed }
        else if end.status.hasPrefix("degraded") { self = .degraded }
        else { self = .failed }
    }
}

/// What the run list shows of one run, kept current from the records as they arrive: only the
/// first record and the newest ones matter, so a long log need not be decoded whole to list it.
public struct LatestRecords: Sendable, Equatable {
    public var runStart: RunStartRecord?
    public var lastRound: RoundRecord?
    /// The newest evaluated round and its evaluation.
    public var lastEvalRound: Int?
    public var lastEval: Evaluation?
    public var runEnd: RunEndRecord?

    public init() {}

    public mutating func apply(_ record: LogRecord) {
        switch record {
        case let .runStart(s): runStart = s
        case let .round(r):
            lastRound = r
            if let e = r.eval { lastEvalRound = r.round; lastEval = e }
        case let .runEnd(e): runEnd = e
        // A resume cuts the log first (the file is then read again), and then the run goes on.
        case .resumed: runEnd = nil
        case .checkpointMerge, .note: break
        }
    }

}

/// One row of the run list, as the page receives it (JSON).
public struct RunRow: Sendable, Codable, Equatable {
    /// The run directory relative to the dashboard's runs directory (`exp-mwa/penalty=1-seed=2`).
    public var id: String
    public var name: String
    public var status: RunStatus
    /// `run_end.status` in full (`failed: …`, `degraded: …`); nil while running.
    public var verdict: String?
    /// `ExperimentSummary` of `run_start.config`, or the run_start fields of older logs.
    public var experiment: String
    public var round: Int?
    public var rounds: Int?
    /// The newest evaluated round's clean (and robust) accuracy.
    public var accuracy: Double?
    public var robustAccuracy: Double?
    public var accuracyRound: Int?
    /// Perturbation budgets of adversarial training and robust evaluation, where present.
    public var epsilon: String?
    public var elapsedSeconds: Double?
    /// The simulated clock after the newest round (`[system]` runs).
    public var simulatedSeconds: Double?
    /// Seconds since the log last grew (a run without run_end whose server died stays "running").
    public var idleSeconds: Double?
    /// Malformed lines and other problems reading this run's log; the run stays listed.
    public var problems: [String]
    /// Changes whenever new records were read: the page redraws a selected run's charts then.
    public var version: Int

    public init(id: String, latest p: LatestRecords, problems: [String], version: Int, modified: Date?, now: Date) {
        self.id = id
        name = p.runStart?.run ?? (id as NSString).lastPathComponent
        status = RunStatus(p.runEnd)
        verdict = p.runEnd?.status
        experiment = Self.experiment(p.runStart)
        round = p.lastRound?.round
        rounds = p.runStart?.rounds
        accuracy = p.lastEval?.cleanAccuracy
        robustAccuracy = p.lastEval?.robustAccuracy
        accuracyRound = p.lastEvalRound
        epsilon = Self.epsilon(p.runStart?.config ?? [:])
        if let end = p.runEnd {
            elapsedSeconds = end.durationSeconds
        } else if let start = p.runStart.flatMap({ Self.date($0.time) }) {
            elapsedSeconds = max(0, now.timeIntervalSince(start))
        }
        simulatedSeconds = p.lastRound?.system?.clockSeconds
        idleSeconds = p.runEnd == nil ? modified.map { max(0, now.timeIntervalSince($0)) } : nil
        self.problems = problems
        self.version = version
    }

    static func experiment(_ s: RunStartRecord?) -> String {
        guard let s else { return "no run_start yet" }
        if let line = ExperimentSummary.line(s.config) {
            return String(line.dropFirst("experiment: ".count))
        }
        return "\(s.dataset) / \(s.partition), \(s.model), \(s.strategy), \(s.clients) clients (\(s.clientsPerRound) per round)"
    }

    /// `train 0.1, eval 0.3`: the ε of adversarial training and of robust evaluation, each only
    /// when it is in use.
    static func epsilon(_ c: [String: ConfigValue]) -> String? {
        var parts: [String] = []
        if let mode = c["adversarial.mode"], mode != .string("none"), let e = c["adversarial.epsilon"] { parts.append("train \(e)") }
        if c["evaluation.robust"] == .bool(true), let e = c["evaluation.epsilon"] { parts.append("eval \(e)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
