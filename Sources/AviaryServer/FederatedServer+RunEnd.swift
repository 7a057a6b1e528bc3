import Foundation
import AviaryLog
import AviaryProtocol
import AviaryTransport

/// How a run ends: the verdict and `run_end` of a run the state machine finished, and the
/// SHUTDOWN and `run_end` of one a server error ended.
extension FederatedServer {
    /// A server error ends the run: SHUTDOWN to every live process, then `run_end` with the
    /// reason. Best effort (the error may be the disk), so it throws nothing itself.
    func endRunAfterError(_ error: any Error, machine: inout ServerStateMachine<PeerID>) {
        let reason = "server error: \(error)"
        try? runStateStore.waitForDurability()  // what was saved durably is on disk before the exit
        logger.error("run ended by an error", metadata: ["error": "\(error)"])
        for action in machine.abort(reason: reason) {
            if case let .send(peer, message) = action { _ = try? transport.send(message, to: peer) }
        }
        let end = RunEndRecord(time: timestamp(), roundsCompleted: roundsCompleted, durationSeconds: elapsedBeforeResume + now - startTime,
                               status: "failed: \(reason)", finalEval: lastEval)
        try? writer.append(.runEnd(end))
        report(.finished(end))
    }

    /// The run's verdict: the state machine's, made stricter when rounds merged nothing.
    func finishRun(_ outcome: (success: Bool, reason: String), machine: ServerStateMachine<PeerID>) throws -> Summary {
        // The state machine's verdict, made stricter when rounds merged nothing.
        var verdict: (status: String, reason: String) = outcome.success ? ("completed", outcome.reason) : ("failed", outcome.reason)
        if outcome.success {
            let unmerged = topology.rounds - state.roundsMerged
            let last = "last reason: \(lastNothingMerged ?? "none")"
            if state.roundsMerged == 0 {
                verdict = ("failed", "no round merged any update (\(last))")
            } else if Double(unmerged) > topology.server.maxUnmergedShare * Double(topology.rounds) {
                verdict = ("degraded", "\(unmerged) of \(topology.rounds) rounds merged nothing (\(last))")
            }
            if verdict.status != "failed", let lost = population.degradedReason(maxLostShare: topology.server.maxLostShare) {
                verdict = ("degraded", verdict.status == "degraded" ? verdict.reason + "; " + lost : lost)
            }
        }
        let success = verdict.status == "completed"
        // What peers did since the last round's summary (a flood before the first round, or
        // after the last) is logged too.
        if let summary = issues.summary() {
            try writer.append(.note(NoteRecord(event: "protocol_issues", time: timestamp(), message: summary)))
        }
        var end = RunEndRecord(time: timestamp(), roundsCompleted: roundsCompleted, durationSeconds: elapsedBeforeResume + now - startTime,
                               status: success ? "completed" : "\(verdict.status): \(verdict.reason)", finalEval: lastEval)
        end.lostClients = population.gone.isEmpty ? nil : population.gone.sorted()
        end.returnedClients = population.returned.isEmpty ? nil : population.returned.sorted()
        if success, let budgetStop { end.stopReason = budgetStop; verdict.reason = budgetStop }
        if topology.privacy.isOn { end.privacy = processor.privacy.runEnd(rounds: roundsCompleted, ledger: state.ledger) }
        end.persistSeconds = lastPersistSeconds
        try writer.append(.runEnd(end))
        report(.finished(end))
        return Summary(roundsCompleted: roundsCompleted, finalEval: lastEval, success: success,
                       reason: success ? verdict.reason : "\(verdict.status): \(verdict.reason)",
                       runDirectory: directory.path, population: population.summary)
    }
}
