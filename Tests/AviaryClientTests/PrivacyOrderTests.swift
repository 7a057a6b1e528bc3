import Testing
@testable import AviaryClient
import AviaryPrivacy
import AviaryProtocol

/// clip → noise → compression on the client: the top-k compressor's error-feedback residual is
/// made of the clipped (and noised) delta only, so no unclipped mass is kept and sent later.
struct PrivacyOrderTests {
    static let format = DeltaFormat(encoding: .topk(fraction: 0.25), tensorSizes: [8])

    static func sent(_ u: UpdateMessage) -> [Float] {
        guard case let .topk(length, indices, values) = u.payload else { return [] }
        var dense = [Float](repeating: 0, count: length)
        for (i, v) in zip(indices, values) { dense[Int(i)] = v }
        return dense
    }

    @Test(arguments: [0.0, 0.5])
    func theResidualHoldsOnlyClippedMass(_ z: Double) throws {
        var privacy = PrivacySettings()
        privacy.mode = .local
        privacy.clipOn = .client
        privacy.clipNorm = 1
        privacy.noiseMultiplier = z
        let store = MemoryResidualStore()
        let c = DeltaCompressor(format: Self.format, history: ResidualHistory(), store: store)
        var carried = [Float](repeating: 0, count: 8)
        for r in 1...5 {
            var delta = (0..<8).map { Float(100 * ($0 + r)) }  // ‖Δ‖ in the hundreds: clipped to 1
            LocalTraining.privatise(&delta, privacy: privacy, client: 0, round: r)
            var expected = (0..<8).map { Float(100 * ($0 + r)) }
            Clipping.clip(&expected, to: 1)
            var noise = GaussianNoise.clientStream(seed: privacy.seed, client: 0, round: r)
            GaussianNoise.add(to: &expected, std: z, stream: &noise)
            #expect(delta == expected, "round \(r): clip, then noise from the client's stream")
            c.modelArrived(round: r)
            let s = Self.sent(try c.encode(UpdateMessage(round: r, clientIndex: 0, samples: 1, metrics: [:], delta: delta)))
            let kept = try store.load(client: 0, version: .init(round: r, generation: 0), count: 8)
            let had = zip(delta, carried).map { $0 + $1 }
            #expect(zip(s, kept).map { $0 + $1 } == had, "round \(r): sent + kept is the privatised delta plus the old residual")
            carried = kept
        }
        if z == 0 {
            // Five clipped deltas of norm 1: whatever is kept is at most their mass.
            #expect(Clipping.norm(carried) <= 5 + 1e-4)
        }
    }
}
