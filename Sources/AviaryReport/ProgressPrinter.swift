import Foundation
import Synchronization
import AviaryLog

/// Prints a server's progress: one plain line per round (and per checkpoint merge, after its
/// round), and on a terminal a live status line within the round (elapsed, ETA, clients
/// answered, what the server is doing). Not a terminal: plain lines only, no control codes.
public final class ProgressPrinter: Sendable {
    private struct State {
        var started = ContinuousClock.now
        var roundStarted = ContinuousClock.now
        var roundsDone = 0
        var firstRound = 1
        var status = ""
        var lastDraw = ContinuousClock.now - .seconds(1)
    }

    public let rounds: Int
    public let live: Bool
    private let state = Mutex(State())

    public init(rounds: Int, live: Bool = isatty(STDOUT_FILENO) == 1) {
        self.rounds = rounds
        self.live = live
    }

    public func listening(endpoint: String, runDirectory: String) {
        line("listening on \(endpoint); run directory \(runDirectory)")
    }

    public func resumed(fromRound: Int, notes: [String]) {
        state.withLock { $0.firstRound = fromRound; $0.roundsDone = fromRound - 1 }
        line("resumed at round \(fromRound)" + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")"))
    }

    public func roundStarted(round: Int, sampled: Int) {
        state.withLock { $0.roundStarted = .now }
        status(round: round, "waiting for 0/\(sampled) clients")
    }

    /// A client answered (or was lost) in the current round.
    public func answered(round: Int, answered: Int, sampled: Int) {
        status(round: round, "waiting for \(answered)/\(sampled) clients")
    }

    public func aggregating(round: Int) {
        status(round: round, "merging and evaluating", force: true)
    }

    public func roundFinished(_ record: RoundRecord, nothingMerged: String?) {
        state.withLock { $0.roundsDone = record.round }
        line(Self.roundLine(record, rounds: rounds, nothingMerged: nothingMerged))
    }

    public func checkpointMerged(_ r: CheckpointMergeRecord) {
        line(String(format: "        merged checkpoints of rounds %@: acc %.4f (round %d's own %.4f)",
                    "\(CompactIndices(r.rounds))", r.eval.cleanAccuracy, r.round, r.lastEval?.cleanAccuracy ?? .nan))
    }

    public func finished() {
        clearStatus()
    }

    /// The plain line for a finished round.
    public static func roundLine(_ r: RoundRecord, rounds: Int, nothingMerged: String?) -> String {
        let width = String(rounds).count
        let round = String(r.round)
        var line = "round \(String(repeating: " ", count: max(0, width - round.count)) + round)/\(rounds)"
        line += "  clients \(r.accepted.count)/\(r.sampled.count)"
        if let eval = r.eval {
            line += String(format: "  acc %.4f  loss %.4f", eval.cleanAccuracy, eval.cleanLoss)
            if let robust = eval.robustAccuracy { line += String(format: "  robust %.4f", robust) }
        }
        line += String(format: "  %.2fs", r.durationSeconds)
        if let nothingMerged { line += "  merged nothing: \(nothingMerged)" }
        if !r.timedOut.isEmpty { line += "  timed out: \(CompactIndices(r.timedOut))" }
        if let lost = r.lost, !lost.isEmpty { line += "  lost: \(CompactIndices(lost))" }
        if !r.rejected.isEmpty && nothingMerged == nil { line += "  rejected: \(CompactIndices(r.rejected.map(\.client)))" }
        if !r.failed.isEmpty { line += "  failed: \(CompactIndices(r.failed.map(\.client)))" }
        return line
    }

    private func line(_ text: String) {
        clearStatus()
        write(text + "\n")
    }

    private func status(round: Int, _ what: String, force: Bool = false) {
        guard live else { return }
        let text: String? = state.withLock { s in
            let now = ContinuousClock.now
            guard force || now - s.lastDraw >= .milliseconds(200) else { return nil }
            s.lastDraw = now
            let elapsed = seconds(now - s.started)
            let done = s.roundsDone - (s.firstRound - 1)
            let eta = done > 0 ? elapsed / Double(done) * Double(rounds - s.roundsDone) : nil
            s.status = "round \(round)/\(rounds)  \(what)  elapsed \(clock(elapsed))" + (eta.map { "  ETA \(clock($0))" } ?? "")
            return s.status
        }
        if let text { write("\r\u{1B}[2K" + text) }
    }

    private func clearStatus() {
        guard live else { return }
        let had = state.withLock { s in defer { s.status = "" }; return !s.status.isEmpty }
        if had { write("\r\u{1B}[2K") }
    }

    /// Straight to the file descriptor: `print` is block-buffered when stdout is a pipe (the
    /// launcher, a test, `tee`), and a progress line that arrives at exit is no progress.
    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// 75 → "1:15", 3725 → "1:02:05".
private func clock(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}
