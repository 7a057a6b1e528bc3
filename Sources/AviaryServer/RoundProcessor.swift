import Foundation
import AviaryLog
import AviaryMerge
import AviaryPrivacy
import AviaryProtocol
import AviaryTopology

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
    /// Adaptive clipping's clip norm for the next round (`[privacy] clipping = "adaptive"`); nil: S.
    var clipNorm: Double? = nil
    /// Local DP: each client's reports so far, for its own ε (`[privacy] mode = "local"`).
    var ledger = LocalPrivacyLedger()
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
    /// Merge weight per accepted client index.
    var weights: [Int: Double] = [:]
    var rejected: [Rejection]
    /// Clients merged by a fallback rule (MWA's `missing_metric = "uniform"`), with why.
    var fallbacks: [Rejection] = []
    /// Accepted clients whose delta was clipped (`[merge] clip_norm`) → their norm before clipping.
    var clipped: [Int: Double] = [:]
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
    /// `discounts`: client → staleness discount the merge applies to its delta (`aggregate`).
    static func merge(_ outcome: RoundOutcome, global: [Float], optimizer: ServerOptimizer,
                      merge spec: Topology.MergeSettings, discounts: [Int: Float] = [:]) -> MergeStep {
        var step = MergeStep(global: global, optimizer: optimizer, rejected: outcome.rejected)
        guard !outcome.updates.isEmpty else {
            step.nothingMerged = nothingMergedReason(outcome, rejected: step.rejected)
            return step
        }
        do {
            let merged = try aggregate(outcome.updates, strategy: spec.strategy, clipNorm: spec.clipNorm, normBound: spec.normBound,
                                       discounts: discounts, serverStep: optimizer.sgdRate.map { (global, $0) })
            step.rejected += merged.rejected
            step.fallbacks = merged.fallbacks
            step.clipped = merged.clipped
            if merged.weights.isEmpty && validateFinite(merged.delta) == nil {
                step.nothingMerged = nothingMergedReason(outcome, rejected: step.rejected)
            } else {
                try applyServerStep(merged.delta, weights: merged.weights, squaredNorm: merged.deltaSquares,
                                    stepped: merged.stepped, to: &step)
            }
        } catch {
            // The strategy refused the whole round (e.g. every metric invalid): keep the model.
            step.global = global
            step.optimizer = optimizer
            step.weights = [:]
            step.failureNote = "\(error)"
            step.nothingMerged = "\(error)"
        }
        step.rejected.sort { $0.clientIndex < $1.clientIndex }
        return step
    }

    /// A SecAgg round (`[secagg]`): the secure sum's weighted mean is the merged delta, fed to
    /// the server optimiser like any strategy's; a failed secure round keeps the model with the
    /// reason. `weights` gets the unmasked clients (weight 1: the server never learns their own;
    /// the record leaves weights out).
    static func mergeSecure(_ outcome: RoundOutcome, report: SecAggRoundReport, global: [Float], optimizer: ServerOptimizer) -> MergeStep {
        var step = MergeStep(global: global, optimizer: optimizer, rejected: outcome.rejected)
        switch report.verdict {
        case let .aggregated(mean, _, survivors):
            do {
                try applyServerStep(mean, weights: Dictionary(uniqueKeysWithValues: survivors.map { ($0, 1.0) }), to: &step)
            } catch {
                step.global = global; step.optimizer = optimizer; step.weights = [:]
                step.failureNote = "\(error)"; step.nothingMerged = "\(error)"
            }
        case let .failed(reason):
            step.nothingMerged = "secure aggregation failed: \(reason)"
        }
        step.rejected.sort { $0.clientIndex < $1.clientIndex }
        return step
    }

    /// Applies the server optimiser to the merged `delta`, or leaves the model as it was with a
    /// failure note when the delta or the step's result is not finite.
    /// `squaredNorm`: Σ delta_j² in index order in Float when the merge summed it already;
    /// `stepped`: the SGD step's model when the merge took it in its pass (finite throughout).
    static func applyServerStep(_ delta: [Float], weights: [Int: Double], squaredNorm: Float? = nil, stepped: [Float]? = nil,
                                to step: inout MergeStep) throws {
        var sgd = step.optimizer
        let fusedStep: (global: [Float], squaredNorm: Float)?
        if let squaredNorm, let stepped, sgd.countFusedSGDStep() {
            fusedStep = (stepped, squaredNorm)
        } else if let squaredNorm {
            fusedStep = sgd.applySGDStepIfFinite(delta: delta, to: step.global).map { ($0, squaredNorm) }
        } else {
            fusedStep = sgd.applySGDIfFinite(delta: delta, to: step.global)
        }
        if let fused = fusedStep {
            // The default rule in one pass over memory; the same bits as the steps below, which
            // run when it is another rule or something is not finite (they say what).
            step.weights = weights
            step.updateNorm = Double(fused.squaredNorm.squareRoot())
            step.global = fused.global
            step.optimizer = sgd
            step.modelKept = false
            return
        }
        if let bad = validateFinite(delta) {
            // Finite inputs can still overflow when summed (e.g. a client sending 1e38s);
            // the global model must never become non-finite.
            step.failureNote = "merged delta[\(bad)] is not finite; global model kept"
            step.nothingMerged = step.failureNote
            return
        }
        var next = step.optimizer
        var candidate = step.global
        try next.apply(delta: delta, to: &candidate)
        if let bad = validateFinite(candidate) {
            // A finite merged delta can still carry the model past Float's range (a model
            // already near it, or the optimiser's own step): the step is not applied.
            step.failureNote = "the server step would make global[\(bad)] \(candidate[bad]); step not applied, global model kept"
            step.nothingMerged = step.failureNote
        } else {
            step.weights = weights
            step.updateNorm = Double(delta.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
            step.global = candidate
            step.optimizer = next
            step.modelKept = false
        }
    }

    /// A short reason for a round that merged nothing, e.g. "metric 'adv_loss' missing".
    static func nothingMergedReason(_ outcome: RoundOutcome, rejected: [Rejection]) -> String {
        if let first = rejected.first {
            let same = rejected.allSatisfy { $0.reason == first.reason }
            return same ? "\(first.reason)" : "\(first.reason) (and \(rejected.count - 1) other rejections)"
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
    /// nil for an external model, which the server cannot run: its rounds have no server-side `eval`.
    let evaluator: GlobalEvaluator?
    let privacy: PrivateRound

    init(topology: Topology, evaluator: GlobalEvaluator?) {
        self.topology = topology
        self.evaluator = evaluator
        privacy = PrivateRound(topology: topology)
    }

    func process(_ answered: RoundOutcome, state: ServerModelState, system: SystemRound? = nil) -> RoundResult {
        let started = ContinuousClock.now
        let round = answered.round
        var state = state
        var outcome = answered
        // The plain merge (`RoundLogic.merge`) applies buffered mode's staleness discounts inside
        // its kernels; central DP and SecAgg merge the scaled deltas.
        var discounts: [Int: Float]? = topology.privacy.mode != .central && outcome.secAgg == nil ? [:] : nil
        let systemRecord = system?.apply(to: &outcome, buffer: &state.stale, discounts: &discounts)
        var step: MergeStep
        var privacyRecord: PrivacyRoundRecord? = nil
        switch topology.privacy.mode {
        case .central where outcome.secAgg != nil:
            (step, privacyRecord) = privacy.mergeSecure(outcome, report: outcome.secAgg!, state: state)
        case _ where outcome.secAgg != nil:
            // The topology refuses local DP with [secagg], so nothing is skipped.
            step = RoundLogic.mergeSecure(outcome, report: outcome.secAgg!, global: state.global, optimizer: state.optimizer)
        case .central: (step, privacyRecord) = privacy.merge(outcome, state: &state)
        case .local, .none:
            step = RoundLogic.merge(outcome, global: state.global, optimizer: state.optimizer, merge: topology.merge,
                                    discounts: discounts ?? [:])
            if topology.privacy.mode == .local { privacyRecord = privacy.localRecord(answered, ledger: &state.ledger) }
        }
        if let s = systemRecord, step.nothingMerged != nil, outcome.updates.isEmpty, !s.stragglers.isEmpty {
            step.nothingMerged = "no update on time: \(s.stragglers.count) of \(answered.sampled.count) sampled clients straggled on the simulated clock"
        }
        state.global = step.global
        state.optimizer = step.optimizer
        if !step.modelKept && !step.weights.isEmpty { state.roundsMerged += 1 }

        var clientMetrics: [Int: [String: Double]] = [:]
        for u in answered.updates { clientMetrics[u.clientIndex] = u.metrics }
        let isLast = round == topology.rounds
        var eval: Evaluation? = nil
        if let evaluator, round % topology.server.evalEvery == 0 || isLast {
            let robustRound = topology.robustEvaluation.map { round % $0.every == 0 || isLast } ?? false
            eval = evaluator.evaluate(state.global, robustRound: robustRound)
        }
        var checkpointMerge: (parameters: [Float], record: CheckpointMergeRecord)? = nil
        if let eval { checkpointMerge = mergeRecentCheckpoints(round: round, isLast: isLast, eval: eval, state: &state) }

        var record = RoundRecord(
            round: round, time: "", durationSeconds: 0, sampled: outcome.sampled,
            accepted: step.weights.keys.sorted(), rejected: step.rejected.map(ClientReason.init),
            failed: outcome.failures.map { ClientReason(client: $0.clientIndex, reason: $0.reason) },
            timedOut: outcome.timedOut, weights: RoundRecord.byClient(step.weights),
            clientMetrics: RoundRecord.byClient(clientMetrics), updateNorm: step.updateNorm,
            eval: eval, checkpoint: nil, modelKept: step.modelKept)
        record.lost = outcome.lost.isEmpty ? nil : outcome.lost
        var traffic: [Int: ClientTraffic] = [:]
        for i in outcome.sampled {
            traffic[i] = ClientTraffic(bytesUp: outcome.traffic.up[i] ?? 0, bytesDown: outcome.traffic.down[i] ?? 0)
        }
        record.clientTraffic = RoundRecord.byClient(traffic)
        record.keptReason = step.modelKept ? step.nothingMerged : nil
        record.bytesUp = outcome.traffic.upTotal
        record.bytesDown = outcome.traffic.downSent
        record.fallbacks = step.fallbacks.isEmpty ? nil : step.fallbacks.map(ClientReason.init)
        record.clipped = step.clipped.isEmpty ? nil : RoundRecord.byClient(step.clipped)
        record.system = systemRecord?.withBufferedWeights(step.weights)
        record.privacy = privacyRecord
        if let report = outcome.secAgg {
            record.secagg = Self.secAggRecord(report, settings: topology.secAgg)
            record.weights = [:]  // the server never learns one client's weight
        }
        let d = ContinuousClock.now - started
        return RoundResult(state: state, record: record, merge: step, checkpointMerge: checkpointMerge,
                           computeSeconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }

    static func secAggRecord(_ r: SecAggRoundReport, settings: SecAggSettings) -> SecAggRoundRecord {
        var record = SecAggRoundRecord(
            participants: r.participants, neighbours: r.degree, threshold: r.threshold, clippingRange: settings.clippingRange,
            quantizationBits: settings.quantizationBits, modulusBits: settings.modulusBits, survivors: r.survivors,
            stageBytesUp: r.bytesUp, stageBytesDown: r.bytesDown, stageSeconds: r.stageSeconds.map { ($0 * 1e6).rounded() / 1e6 })
        switch r.verdict {
        case let .aggregated(_, total, _): record.weightTotal = total
        case let .failed(reason): record.failure = reason
        }
        record.dropped = r.dropped.isEmpty ? nil : RoundRecord.byClient(r.dropped)
        return record
    }

    /// The MWA paper's own setting: merge the last `window` global models, weighted by their
    /// evaluation loss (loss-type) or round number (progress-type), and evaluate the merged model
    /// beside the round's own.
    private func mergeRecentCheckpoints(round: Int, isLast: Bool, eval: Evaluation,
                                        state: inout ServerModelState) -> (parameters: [Float], record: CheckpointMergeRecord)? {
        guard let settings = topology.merge.checkpointMerge, let evaluator else { return nil }
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
