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

/// Adaptive clipping with client-side clipping on the client: it clips to the S its TRAIN
/// carries, and a TRAIN without a usable S is refused with the key named.
struct ClientSideAdaptiveClippingTests {
    static var privacy: PrivacySettings {
        var p = PrivacySettings()
        p.mode = .central
        p.clipping = .adaptive
        p.clipOn = .client
        p.clipNorm = 1
        return p
    }

    @Test func clipsToTheRoundsClipNormFromTrain() throws {
        let s = try LocalTraining.roundClipNorm(Self.privacy, config: ["clip_norm": 0.5, "local_epochs": 1], client: 2, round: 3)
        #expect(s == 0.5)
        var delta: [Float] = [3, 4]
        let before = LocalTraining.privatise(&delta, privacy: Self.privacy, client: 2, round: 3, clipNorm: s)
        #expect(before == 5 && abs(Clipping.norm(delta) - 0.5) < 1e-6)
        var fixed = Self.privacy
        fixed.clipping = .fixed
        #expect(try LocalTraining.roundClipNorm(fixed, config: [:], client: 2, round: 3) == 1)
        #expect(try LocalTraining.roundClipNorm(nil, config: ["clip_norm": 0.5], client: 2, round: 3) == nil)
    }

    @Test(arguments: [[:], ["clip_norm": 0.0], ["clip_norm": -1.0], ["clip_norm": Double.nan]] as [[String: Double]])
    func aTrainWithoutAUsableClipNormIsRefused(_ config: [String: Double]) {
        do {
            _ = try LocalTraining.roundClipNorm(Self.privacy, config: config, client: 2, round: 3)
            Issue.record("\(config) was accepted")
        } catch {
            #expect("\(error)".contains("clip_norm") && "\(error)".contains("client 2, round 3"), "\(error)")
        }
    }
}
