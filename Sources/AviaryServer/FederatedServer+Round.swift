import Foundation
import AviaryLog
import AviaryMerge
import AviaryProtocol
import AviaryTransport

extension FederatedServer {
    /// Merge, apply, evaluate, checkpoint, log: everything between "round closed" and "next round".
    func finishRound(_ outcome: ServerStateMachine<PeerID>.RoundOutcome, writer: AggregationLogWriter) throws {
        let round = outcome.round
        var rejected = outcome.rejected.map { ClientReason(client: $0.client, reason: $0.reason) }
        var weights: [String: Double] = [:]
        var updateNorm = 0.0
        var modelKept = true
        var clientMetrics: [String: [String: Double]] = [:]
        for u in outcome.updates {
            var m = u.metrics
            m["samples"] = Double(u.samples)
            clientMetrics[String(u.clientIndex)] = m
        }

        let updates = outcome.updates.map {
            ClientUpdate(clientIndex: $0.clientIndex, samples: $0.samples,
                         metrics: $0.metrics.merging(["samples": Double($0.samples)]) { a, _ in a }, delta: $0.delta)
        }
        if !updates.isEmpty {
            do {
                let merged = try aggregate(updates, strategy: topology.merge.strategy, clipNorm: topology.merge.clipNorm)
                rejected += merged.rejected.map { ClientReason(client: $0.clientIndex, reason: $0.reason) }
                for (client, w) in merged.weights { weights[String(client)] = w }
                if let bad = validateFinite(merged.delta) {
                    // Finite inputs can still overflow when summed (e.g. a client sending 1e38s);
                    // the global model must never become non-finite.
                    logger.warning("merged delta is not finite; global model kept", metadata: ["round": "\(round)", "index": "\(bad)"])
                    try writer.append(.note(NoteRecord(event: "merge_failed", time: timestamp(), round: round,
                                                       message: "merged delta[\(bad)] is not finite; global model kept")))
                    weights = [:]
                } else if !merged.weights.isEmpty {
                    updateNorm = Double(merged.delta.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
                    try optimizer.apply(delta: merged.delta, to: &global)
                    modelKept = false
                }
            } catch {
                // The strategy refused the whole round (e.g. every metric invalid): keep the model.
                logger.warning("merge refused the round; global model kept", metadata: ["round": "\(round)", "error": "\(error)"])
                try writer.append(.note(NoteRecord(event: "merge_failed", time: timestamp(), round: round, message: "\(error)")))
            }
        }

        let isLast = round == topology.rounds
        var eval: Evaluation? = nil
        if round % topology.server.evalEvery == 0 || isLast {
            let robustRound = topology.robustEvaluation.map { round % $0.every == 0 || isLast } ?? false
            eval = evaluator.evaluate(global, robustRound: robustRound)
            lastEval = eval
        }
        if let eval { try mergeRecentCheckpoints(round: round, isLast: isLast, eval: eval, writer: writer) }
        var checkpoint: String? = nil
        let every = topology.server.checkpointEvery
        if every > 0 && (round % every == 0 || isLast) {
            checkpoint = try checkpointer.write(global, round: round, metadata: [
                "run": topology.name, "round": String(round), "model": modelSpec.name, "format": "aviary-checkpoint-v1",
            ])
        }
        let duration = ContinuousClock.now - roundStarted
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        try writer.append(.round(RoundRecord(
            round: round, time: timestamp(), durationSeconds: seconds, sampled: outcome.sampled,
            accepted: weights.keys.compactMap(Int.init).sorted(), rejected: rejected.sorted { $0.client < $1.client },
            failed: outcome.failures.map { ClientReason(client: $0.clientIndex, reason: $0.reason) },
            timedOut: outcome.timedOut, weights: weights, clientMetrics: clientMetrics, updateNorm: updateNorm,
            eval: eval, checkpoint: checkpoint, modelKept: modelKept)))
        roundsCompleted = round
        if options.progress { emit(progressLine(round: round, outcome: outcome, accepted: weights.count, eval: eval, seconds: seconds)) }
    }

    /// The MWA paper's own setting: merge the last `window` global models, weighted by their
    /// evaluation loss (loss-type) or round number (progress-type), and log the merged model's
    /// evaluation beside the round's own.
    func mergeRecentCheckpoints(round: Int, isLast: Bool, eval: Evaluation, writer: AggregationLogWriter) throws {
        guard let settings = topology.merge.checkpointMerge else { return }
        // Without a validation split this is the reported test loss: selection on the test set,
        // which docs/TOPOLOGY.md warns about ([evaluation].validation_fraction avoids it).
        recentGlobals.append((round, global, eval.validationLoss ?? eval.cleanLoss))
        if recentGlobals.count > settings.window { recentGlobals.removeFirst(recentGlobals.count - settings.window) }
        let due = isLast || (settings.every > 0 && round % settings.every == 0)
        guard due, recentGlobals.count >= 2 else { return }
        let byRound = settings.metric == "round"
        let inputs = recentGlobals.map { (parameters: $0.parameters, metric: byRound ? Double($0.round) : $0.loss) }
        let merged = try mergeCheckpoints(inputs, kind: byRound ? .progress : .loss, penalty: settings.penalty)
        let robustRound = topology.robustEvaluation != nil
        let mergedEval = evaluator.evaluate(merged.parameters, robustRound: robustRound)
        let name = RunDirectory.mergedCheckpointName(round: round)
        try Safetensors.write(tensors: evaluator.network.layout.tensors.map { (name: $0.name, shape: $0.shape) },
                              values: merged.parameters,
                              metadata: ["run": topology.name, "merged_rounds": recentGlobals.map { String($0.round) }.joined(separator: ","),
                                         "format": "aviary-checkpoint-v1"],
                              to: directory.checkpoints + "/" + name)
        var weights: [String: Double] = [:]
        for (r, w) in zip(recentGlobals, merged.weights) { weights[String(r.round)] = w }
        let lastEval = robustRound && eval.robustAccuracy == nil ? evaluator.evaluate(global, robustRound: true) : eval
        try writer.append(.checkpointMerge(CheckpointMergeRecord(
            round: round, time: timestamp(), rounds: recentGlobals.map(\.round), weights: weights, metric: settings.metric,
            penalty: settings.penalty, eval: mergedEval, lastEval: lastEval, checkpoint: "checkpoints/" + name)))
        if options.progress {
            emit(String(format: "        merged last %d checkpoints: acc %.4f (round's own %.4f)", recentGlobals.count,
                         mergedEval.cleanAccuracy, eval.cleanAccuracy))
        }
    }

    func progressLine(round: Int, outcome: ServerStateMachine<PeerID>.RoundOutcome, accepted: Int, eval: Evaluation?, seconds: Double) -> String {
        let width = String(topology.rounds).count
        var line = "round \(String(round).leftPadded(to: width))/\(topology.rounds)"
        line += "  clients \(accepted)/\(outcome.sampled.count)"
        if let eval {
            line += String(format: "  acc %.4f  loss %.4f", eval.cleanAccuracy, eval.cleanLoss)
            if let r = eval.robustAccuracy { line += String(format: "  robust %.4f", r) }
        }
        line += String(format: "  %.2fs", seconds)
        if !outcome.timedOut.isEmpty { line += "  timed out: \(outcome.timedOut)" }
        if !outcome.rejected.isEmpty { line += "  rejected: \(outcome.rejected.map(\.client))" }
        if !outcome.failures.isEmpty { line += "  failed: \(outcome.failures.map(\.clientIndex))" }
        return line
    }

    func runStartRecord() -> RunStartRecord {
        let stats = data.statistics()
        return RunStartRecord(
            run: topology.name, time: timestamp(), aviaryVersion: aviaryVersion,
            seeds: .init(partition: topology.seeds.partition, sampling: topology.seeds.sampling, training: topology.seeds.training),
            rounds: topology.rounds, clients: topology.data.clients, clientsPerRound: topology.server.clientsPerRound,
            model: modelSpec.name, parameters: global.count, strategy: topology.merge.strategy.name,
            dataset: topology.data.dataset.name, partition: topology.data.partition.name,
            partitionStats: PartitionSummary(counts: stats.clients.map(\.count), labelHistograms: stats.clients.map(\.labelCounts),
                                             meanTotalVariation: stats.meanTotalVariation),
            notes: data.notes)
    }
}

public let aviaryVersion = "0.1.0"

/// Progress goes straight to the file descriptor: `print` is block-buffered when stdout is a
/// pipe (the launcher, a test, `tee`), and a progress line that arrives at exit is no progress.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func timestamp() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
