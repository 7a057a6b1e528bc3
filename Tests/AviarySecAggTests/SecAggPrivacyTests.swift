import Testing
@testable import AviarySecAgg
import AviaryMath

/// What the server and colluding clients can see: masked vectors look uniform, and fewer than
/// t neighbours learn nothing of a client's secrets.
@Suite struct SecAggPrivacyTests {
    /// Pearson's χ² of byte counts against the uniform distribution (255 degrees of freedom).
    func chiSquare(_ bytes: [UInt8]) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        for b in bytes { counts[Int(b)] += 1 }
        let expected = Double(bytes.count) / 256
        return counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
    }

    func parameters(round: Int, n: Int, k: Int, t: Int, bits: (quantisation: Int, modulus: Int), length: Int) throws -> SecAggParameters {
        try SecAggParameters(round: round, participants: Array(0..<n), degree: k, threshold: t, graphSeed: 4,
                             quantiser: try FixedPointQuantiser(clippingRange: 1, quantisationBits: bits.quantisation, modulusBits: bits.modulus),
                             vectorLength: length)
    }

    /// Every participant's input: `value` in every coordinate.
    func constant(_ value: UInt32, _ p: SecAggParameters) -> [Int: [UInt32]] {
        Dictionary(uniqueKeysWithValues: p.participants.map { ($0, [UInt32](repeating: value, count: p.vectorLength)) })
    }

    /// Inputs of all zeros, the worst case: every byte of entropy in what the server receives
    /// comes from the masks. χ² below 330.5 (p = 0.001 at 255 degrees of freedom) for every
    /// client, while the unmasked inputs themselves fail the test by orders of magnitude.
    @Test func maskedVectorsBytesAreIndistinguishableFromUniform() throws {
        let p = try parameters(round: 1, n: 6, k: 4, t: 3, bits: (16, 32), length: 4096)
        var driver = try RoundDriver.fixed(parameters: p, inputs: constant(0, p))
        let r = try driver.run().get()
        #expect(r.sum == [UInt32](repeating: 0, count: 4096))
        for c in p.participants {
            let bytes = driver.maskedSeen[c]!.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
            #expect(chiSquare(bytes) < 330.5, "client \(c)")
        }
        #expect(chiSquare([UInt8](repeating: 0, count: 16384)) > 10_000)
    }

    /// t − 1 colluding neighbours pool the shares they hold of one client's self-mask seed and
    /// mask key: the threshold refuses them, and interpolating anyway does not give the secret.
    /// One more neighbour (t shares) does, which shows the pooling itself works.
    @Test func aCoalitionOfFewerThanThresholdNeighboursReconstructsNothing() throws {
        let p = try parameters(round: 2, n: 10, k: 6, t: 4, bits: (12, 24), length: 8)
        var driver = try RoundDriver.fixed(parameters: p, inputs: constant(7, p))
        _ = try driver.run().get()
        let victim = 5
        let real = RoundDriver.secrets(for: victim, round: 2)
        let coalition = p.graph.neighbours(of: victim)
        let pooled = coalition.compactMap { driver.clients[$0]!.heldShares(of: victim) }
        #expect(pooled.count == 6)
        let few = Array(pooled.prefix(3))
        #expect(throws: SecAggError.tooFewShares(have: 3, threshold: 4)) {
            try ShamirSharing.reconstruct(shares: few.map(\.selfMask), threshold: 4)
        }
        #expect((try? ShamirSharing.reconstruct(shares: few.map(\.selfMask), threshold: 3)) != real.selfMaskSeed)
        #expect((try? ShamirSharing.reconstruct(shares: few.map(\.maskKey), threshold: 3)) != real.maskKey)
        let enough = Array(pooled.prefix(4))
        #expect(try ShamirSharing.reconstruct(shares: enough.map(\.selfMask), threshold: 4) == real.selfMaskSeed)
        #expect(try ShamirSharing.reconstruct(shares: enough.map(\.maskKey), threshold: 4) == real.maskKey)
    }

    @Test func protocolBreachesDropTheSenderNotTheServer() throws {
        let q = try FixedPointQuantiser(clippingRange: 1, quantisationBits: 8, modulusBits: 16)
        let p = try SecAggParameters(round: 0, participants: [0, 1, 2, 3], degree: 3, threshold: 2, graphSeed: 1,
                                     quantiser: q, vectorLength: 3)
        var server = SecAggServer(parameters: p)
        _ = server.start()
        #expect(server.receive(.masked(MaskedInput(client: 0, values: [1, 2, 3])), from: 0)
                == [.dropped(client: 0, reason: .unexpectedStage(expected: "advertise-keys", got: "masked-input"))])
        #expect(server.receive(.keys(AdvertisedKeys(client: 1, encryptionKey: [1], maskKey: [2])), from: 1)
                == [.dropped(client: 1, reason: .invalidPublicKey(client: 1))])
        #expect(server.receive(.keys(AdvertisedKeys(client: 1, encryptionKey: [1], maskKey: [2])), from: 9)
                == [.dropped(client: 9, reason: .unknownClient(9))])
        var clients = try [2, 3].map { try SecAggClient(index: $0, parameters: p, secrets: RoundDriver.secrets(for: $0, round: 0)) }
        _ = server.receive(.keys(try clients[0].advertiseKeys()), from: 2)
        let actions = server.receive(.keys(try clients[1].advertiseKeys()), from: 3)
        // Everyone still expected answered: the stage closed and the two survivors got keys.
        #expect(actions.count == 2 && server.stage == .sharing)
        #expect(server.receive(.masked(MaskedInput(client: 2, values: [0, 0, 0])), from: 2).first
                == .dropped(client: 2, reason: .unexpectedStage(expected: "share-keys", got: "masked-input")))
        #expect(server.lost(3) == [.failed(.tooFewSurvivors(stage: "share-keys", have: 0, threshold: 2))])
    }
}
