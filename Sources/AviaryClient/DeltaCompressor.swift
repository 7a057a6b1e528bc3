import AviaryProtocol
import AviaryTopology

/// Encodes a process's UPDATE deltas in the run's encoding, on the training thread, and keeps
/// top-k's error-feedback residuals: what a client did not send is added to its next delta.
///
/// State per hosted client, only for top-k and only once the client has trained in this
/// process: its residual (one f32 per parameter, 4 × parameters bytes) and its last encoded
/// update (8 × k bytes). Clients that never trained cost nothing, so on-demand clients still
/// are only their index until sampled. A restarted process starts with zero residuals.
final class DeltaCompressor {
    let format: DeltaFormat
    private var residuals: [Int: [Float]] = [:]
    /// The update each top-k client sent last, by client: a TRAIN for a round the client already
    /// trained (the server re-sent it after a reconnect, or ran the round again after a resume)
    /// gets the same update again instead of applying the residual twice.
    private var lastSent: [Int: UpdateMessage] = [:]

    init(spec: RunSpec) {
        format = DeltaFormat(encoding: spec.compression, tensorSizes: spec.model.layout.tensors.map(\.count))
    }

    /// The update `client` already produced for `round`, when the encoding keeps state.
    func alreadySent(client: Int, round: Int) -> UpdateMessage? {
        guard let u = lastSent[client], u.round == round else { return nil }
        return u
    }

    /// `update` (with a dense f32 delta of the model's length) in the run's encoding.
    func encode(_ update: UpdateMessage) -> UpdateMessage {
        var u = update
        switch format.encoding {
        case .f32:
            return u
        case .topk:
            var residual = residuals[u.clientIndex]
            u.payload = TopKSparsifier.step(delta: update.delta, residual: &residual, k: format.topkCount)
            residuals[u.clientIndex] = residual
            lastSent[u.clientIndex] = u
        case .f16, .int8:
            let encoded = DeltaCodec.encode(update.delta, format: format)
            u.payload = encoded.payload
            if encoded.clamped > 0 { u.metrics["f16_clamped"] = Double(encoded.clamped) }
        }
        return u
    }
}
