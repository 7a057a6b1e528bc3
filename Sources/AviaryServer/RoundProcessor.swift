import Foundation
import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTopology
import AviaryTransport

/// Everything a round changes on the server, and so everything resume restores: the global
/// model, the server optimiser (momentum / Adam moments) and the checkpoint-merge window.
struct ServerModelState: Sendable {
    var global: [Float]
    var optimizer: ServerOptimizer
    /// The last `[merge.checkpoints].window` global models with their round and selection loss.
    var window: [CheckpointWindowEntry]
    /// Rounds so far that merged at least one update (for the run's final verdict).
    var roundsMerged: Int = 0
    /// Stragglers' updates held back for a later round (`[system] straggler_policy = "stale"`).
    var stale: [StaleUpdate] = []
}

struct CheckpointWindowEntry: Sendable, Equatable {
    var round: Int
    var parameters: [Float]
    var loss: Double
}

/// What merging one round's updates produced: the pure part of a round.
struct MergeStep: Sendable {
    var global: [Float]
    var optimizer: ServerOptimizer
    var weights: [String: Double] = [:]
    var rejected: [ClientReason]
    /// Clients merged by a fallback rule (MWA's `missing_metric = "uniform"`), with why.
    var fallbacks: [ClientReason] = []
    var updateNorm = 0.0
    var modelKept = true
    /// Why the round merged nothing, when it did not (for the progress line, the log and the verdict).
    var nothingMerged: String?
    /// A note for the log when the merge failed as a whole.
    var failureNote: String?
}

/// A finished round, ready to be written: the new state, its log record and what to save.
struct RoundResult: Sendable {
    var state: ServerModelState
    var record: RoundRecord
    var merge: MergeStep
    /// A checkpoint merge due this round: the merged parameters and its log record (the file
    /// name is filled in when it is written).
    var checkpointMerge: (parameters: [Float], record: CheckpointMergeRecord)?
    /// Seconds spent merging and evaluating.
    var computeSeconds: Double
}

enum RoundLogic {
    /// Merges `outcome`'s updates with the topology's strategy and applies the server optimiser:
    /// outcome + global + optimiser → new global + weights. Pure (no I/O); unit-tested.
    static func merge(_ outcome: ServerStateMachine<PeerID>.RoundOutcome, global: [Float], optimizer: ServerOptimizer,
                      merge spec: Topology.MergeSettings) -> MergeStep {
        var step = MergeStep(global: global, optimizer: optimizer,
                             rejected: outcome.rejected.map { ClientReason(client: $0.client, reason: $0.reason) })
        let updates = outcome.updates.map {
            ClientUpdate(clientIndex: $0.clientIndex, samples: $0.samples,
                         metrics: $0.metrics.merging(["samples": Double($0.samples)]) { a, _ in a }, delta: $0.delta)
        }
        guard !updates.isEmpty else {
            step.nothingMerged = nothingMergedReason(outcome, rejected: step.rejected)
            return step
        }
        do {
            let merged = try aggregate(updates, strategy: spec.strategy, clipNorm: spec.clipNorm)
            step.rejected += merged.rejected.map { ClientReason(client: $0.clientIndex, reason: $0.reason) }
            step.fallbacks = merged.fallbacks.map { ClientReason(client: $0.clientIndex, reason: $0.reason) }
            if let bad = validateFinite(merged.delta) {
                // Finite inputs can still overflow when summed (e.g. a client sending 1e38s);
                // the global model must never become non-finite.
                step.failureNote = "merged delta[\(bad)] is not finite; global model kept"
                step.nothingMerged = step.failureNote
            } else if merged.weights.isEmpty {
                step.nothingMerged = nothingMergedReason(outcome, rejected: step.rejected)
            } else {
                for (client, w) in merged.weights { step.weights[String(client)] = w }
                step.updateNorm = Double(merged.delta.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
                try step.optimizer.apply(delta: merged.delta, to: &step.global)
                step.modelKept = false
            }
        } catch {
            // The strategy refused the whole round (e.g. every metric invalid): keep the model.
            step.global = global
            step.optimizer = optimizer
            step.weights = [:]
            step.failureNote = "\(error)"
            step.nothingMerged = "\(error)"
        }
        step.rejected.sort { $0.client < $1.client }
        return step
    }

    /// A short reason for a round that merged nothing, e.g. "metric 'adv_loss' missing".
    static func nothingMergedReason(_ outcome: ServerStateMachine<PeerID>.RoundOutcome, rejected: [ClientReason]) -> String {
        if let first = rejected.first {
            let same = rejected.allSatisfy { $0.reason == first.reason }
            return same ? first.reason : "\(first.reason) (and \(rejected.count - 1) other rejections)"
        }
        if !outcome.failures.isEmpty { return "every answering client failed: \(outcome.failures[0].reason)" }
        if !outcome.lost.isEmpty && outcome.timedOut.isEmpty { return "the processes of all sampled clients were lost" }
        if !outcome.timedOut.isEmpty { return "no sampled client answered before the round deadline" }
        return "no update arrived"
    }
}

/// Runs the expensive part of a round (merge, evaluation, checkpoint merge) on the state it is
/// given and returns the result; it writes nothing. The server runs it on a worker thread so its
/// socket loop keeps answering heartbeats meanwhile.
final class RoundProcessor {
    let topology: Topology
    let evaluator: GlobalEvaluator

    init(topology: Topology, evaluator: GlobalEvaluator) {
        self.topology = topology
        self.evaluator = evaluator
    }

    func process(_ answered: ServerStateMachine<PeerID>.RoundOutcome, state: ServerModelState, system: SystemRound? = nil) -> RoundResult {
        let started = ContinuousClock.now
        let round = answered.round
        var state = state
        var outcome = answered
        let systemRecord = system?.apply(to: &outcome, buffer: &state.stale)
        var step = RoundLogic.merge(outcome, global: state.global, optimizer: state.optimizer, merge: topology.merge)
        if let s = systemRecord, step.nothingMerged != nil, outcome.updates.isEmpty, !s.stragglers.isEmpty {
            step.nothingMerged = "no update on time: \(s.stragglers.count) of \(answered.sampled.count) sampled clients straggled on the simulated clock"
        }
        state.global = step.global
        state.optimizer = step.optimizer
        if !step.modelKept { state.roundsMerged += 1 }

        var clientMetrics: [String: [String: Double]] = [:]
        for u in answered.updates {
            var m = u.metrics
            m["samples"] = Double(u.samples)
            clientMetrics[String(u.clientIndex)] = m
        }
        let isLast = round == topology.rounds
        var eval: Evaluation? = nil
        if round % topology.server.evalEvery == 0 || isLast {
            let robustRound = topology.robustEvaluation.map { round % $0.every == 0 || isLast } ?? false
            eval = evaluator.evaluate(state.global, robustRound: robustRound)
        }
        var checkpointMerge: (parameters: [Float], record: CheckpointMergeRecord)? = nil
        if let eval { checkpointMerge = mergeRecentCheckpoints(round: round, isLast: isLast, eval: eval, state: &state) }

        var record = RoundRecord(
            round: round, time: "", durationSeconds: 0, sampled: outcome.sampled,
            accepted: step.weights.keys.compactMap(Int.init).sorted(), rejected: step.rejected,
            failed: outcome.failures.map { ClientReason(client: $0.clientIndex, reason: $0.reason) },
            timedOut: outcome.timedOut, weights: step.weights, clientMetrics: clientMetrics, updateNorm: step.updateNorm,
            eval: eval, checkpoint: nil, modelKept: step.modelKept)
        record.lost = outcome.lost.isEmpty ? nil : outcome.lost
        var traffic: [String: ClientTraffic] = [:]
        for i in outcome.sampled {
            traffic[String(i)] = ClientTraffic(bytesUp: outcome.traffic.up[i] ?? 0, bytesDown: outcome.traffic.down[i] ?? 0)
        }
        record.clientTraffic = traffic
        record.bytesUp = outcome.traffic.upTotal
        record.bytesDown = outcome.traffic.downSent
        record.fallbacks = step.fallbacks.isEmpty ? nil : step.fallbacks
        record.system = systemRecord
        let d = ContinuousClock.now - started
        return RoundResult(state: state, record: record, merge: step, checkpointMerge: checkpointMerge,
                           computeSeconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }

    /// The MWA paper's own setting: merge the last `window` global models, weighted by their
    /// evaluation loss (loss-type) or round number (progress-type), and evaluate the merged model
    /// beside the round's own.
    private func mergeRecentCheckpoints(round: Int, isLast: Bool, eval: Evaluation,
                                        state: inout ServerModelState) -> (parameters: [Float], record: CheckpointMergeRecord)? {
        guard let settings = topology.merge.checkpointMerge else { return nil }
        // Without a validation split this is the reported test loss: selection on the test set,
        // which docs/TOPOLOGY.md warns about ([evaluation].validation_fraction avoids it).
        state.window.append(CheckpointWindowEntry(round: round, parameters: state.global, loss: eval.validationLoss ?? eval.cleanLoss))
        if state.window.count > settings.window { state.window.removeFirst(state.window.count - settings.window) }
        let due = isLast || (settings.every > 0 && round % settings.every == 0)
        guard due, state.window.count >= 2 else { return nil }
        let byRound = settings.metric == "round"
        let inputs = state.window.map { (parameters: $0.parameters, metric: byRound ? Double($0.round) : $0.loss) }
        guard let merged = try? mergeCheckpoints(inputs, kind: byRound ? .progress : .loss, penalty: settings.penalty) else { return nil }
        let robustRound = topology.robustEvaluation != nil
        let mergedEval = evaluator.evaluate(merged.parameters, robustRound: robustRound)
        var weights: [String: Double] = [:]
        for (r, w) in zip(state.window, merged.weights) { weights[String(r.round)] = w }
        let lastEval = robustRound && eval.robustAccuracy == nil ? evaluator.evaluate(state.global, robustRound: true) : eval
        let record = CheckpointMergeRecord(
            round: round, time: "", rounds: state.window.map(\.round), weights: weights, metric: settings.metric,
            penalty: settings.penalty, eval: mergedEval, lastEval: lastEval, checkpoint: nil)
        return (merged.parameters, record)
    }
}
