import AviaryProtocol
import AviaryTopology

/// Encodes a process's UPDATE deltas in the run's encoding, on the training thread, and keeps
/// the error-feedback residuals of top-k (always) and of f16/int8 with `error_feedback`: what a
/// client did not send is added to its next delta. int8 with `rounding = "stochastic"` draws
/// from the client's own stream for the round (`QuantisationOptions.roundingStream`).
///
/// Residuals are versions in a `ResidualStore` (one per round a client trained in), chosen and
/// deleted by `ResidualHistory`'s rules, so training a round again — a re-sent TRAIN, or a round
/// the resumed server runs again — uses the residual the first attempt used, and a resumed run
/// is the uninterrupted one bit for bit. With a `DirectoryResidualStore` nothing stays in memory
/// between rounds: an on-demand client costs its index until sampled, and a few files after.
final class DeltaCompressor {
    let format: DeltaFormat
    let quantisation: QuantisationOptions
    /// The run's training seed: stochastic rounding's streams derive from it.
    let trainingSeed: UInt64
    let parameterCount: Int
    private(set) var history: ResidualHistory
    let store: ResidualStore
    /// Clients whose stored versions must be looked at again once `savedRound` reaches the
    /// value (only top-k clients this process saved): their versions after the saved round, or
    /// their last one ageing out. Clients with nothing left to delete are not tracked.
    private var recheck: [Int: Int] = [:]
    /// The last round certainly in the server's saved state (from the latest MODEL).
    private(set) var savedRound = -1

    init(format: DeltaFormat, history: ResidualHistory, store: ResidualStore,
         quantisation: QuantisationOptions = QuantisationOptions(), trainingSeed: UInt64 = 0) {
        self.format = format
        self.quantisation = quantisation
        self.trainingSeed = trainingSeed
        parameterCount = format.tensorSizes.reduce(0, +)
        self.history = history
        self.store = store
    }

    convenience init(spec: RunSpec, store: ResidualStore) {
        self.init(format: DeltaFormat(encoding: spec.compression, tensorSizes: spec.model.layout.tensors.map(\.count)),
                  history: ResidualHistory(resumes: spec.resumes, maxAge: spec.residualMaxAge), store: store,
                  quantisation: spec.quantisation ?? QuantisationOptions(), trainingSeed: spec.trainingSeed)
    }

    /// Files an earlier process left for `hosted` clients (a restart, `aviary run --resume`) are
    /// looked at when this process next trains, like its own, so a max age bounds them too;
    /// without one they are pruned when their client next trains. Clients hosted elsewhere are left to
    /// their own process.
    func adoptStored(hosted: Set<Int>) throws(ResidualStoreError) {
        guard format.encoding.usesErrorFeedback(quantisation), history.maxAge != nil else { return }
        for client in try store.clients() where hosted.contains(client) && recheck[client] == nil {
            recheck[client] = savedRound + 1
        }
    }

    /// A WELCOME of the same run again (after a reconnect, or a server that resumed meanwhile).
    func adopt(_ spec: RunSpec) { adopt(resumes: spec.resumes) }
    /// `savedRound` stays: a resume goes back to the server's latest saved round, never before
    /// what the dead server's MODELs said was saved.
    func adopt(resumes: [Int]) { history.resumes = resumes }

    /// A MODEL for `round` arrived (called when the process trains for it): rounds ≤ round − 2
    /// are saved by the server, so versions no resume can reach again are deleted. Returns what could not be deleted (worth a warning,
    /// harmless: a later look deletes it).
    @discardableResult
    func modelArrived(round: Int) -> [ResidualStoreError] {
        let saved = ResidualHistory.savedRound(whenModelArrives: round)
        guard saved > savedRound else { return [] }
        savedRound = saved
        var failures: [ResidualStoreError] = []
        for (client, when) in recheck where when <= saved {
            do { try prune(client: client, stored: try store.versions(client: client)) } catch { failures.append(error) }
        }
        return failures
    }

    /// `update` (with a dense f32 delta of the model's length) in the run's encoding.
    func encode(_ update: UpdateMessage) throws(ResidualStoreError) -> UpdateMessage {
        var u = update
        switch format.encoding {
        case .f32:
            return u
        case .topk:
            let k = format.topkCount
            u.payload = try withResidual(u) { delta, residual in TopKSparsifier.step(delta: delta, residual: &residual, k: k) }
        case .f16, .int8:
            let rounding: DeltaCodec.Rounding = format.encoding == .int8 && quantisation.rounding == .stochastic
                ? .stochastic(QuantisationOptions.roundingStream(trainingSeed: trainingSeed, client: u.clientIndex, round: u.round))
                : .nearest
            var clamped = 0
            if quantisation.errorFeedback {
                let format = self.format
                u.payload = try withResidual(u) { delta, residual in
                    let encoded = DeltaCodec.feedbackStep(delta: delta, residual: &residual, format: format, rounding: rounding)
                    clamped = encoded.clamped
                    return encoded.payload
                }
            } else {
                let encoded = DeltaCodec.encode(update.trainedDelta, format: format, rounding: rounding)
                u.payload = encoded.payload
                clamped = encoded.clamped
            }
            if clamped > 0 { u.metrics["f16_clamped"] = Double(clamped) }
        }
        return u
    }

    /// Runs one error-feedback `step` for `update`'s client with the residual `history` picks for
    /// its round (none: zero), saves the new residual as this round's version and prunes.
    private func withResidual(_ update: UpdateMessage,
                              _ step: (_ delta: [Float], _ residual: inout [Float]?) -> DeltaPayload) throws(ResidualStoreError) -> DeltaPayload {
        let client = update.clientIndex
        var stored = try store.versions(client: client)
        var residual = try history.residual(forRound: update.round, stored: stored).map { v throws(ResidualStoreError) in
            try store.load(client: client, version: v, count: parameterCount)
        }
        let payload = step(update.trainedDelta, &residual)
        let written = ResidualHistory.Version(round: update.round, generation: history.generation)
        try store.save(client: client, version: written, residual: residual!)
        if !stored.contains(written) { stored.append(written) }
        try prune(client: client, stored: stored)
        return payload
    }

    /// Deletes what `history` says `client` no longer needs and notes when to look again.
    private func prune(client: Int, stored: [ResidualHistory.Version]) throws(ResidualStoreError) {
        let deletable = history.deletable(stored: stored, saved: savedRound)
        for v in deletable { try store.delete(client: client, version: v) }
        let kept = stored.filter { !deletable.contains($0) }
        if kept.contains(where: { $0.round > savedRound }) {
            recheck[client] = savedRound + 1
        } else if let maxAge = history.maxAge, let newest = kept.map(\.round).max() {
            recheck[client] = newest + maxAge  // then round saved + 1 is more than maxAge after it
        } else {
            recheck[client] = nil
        }
    }
}
