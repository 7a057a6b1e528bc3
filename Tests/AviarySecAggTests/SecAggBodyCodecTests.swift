import Testing
@testable import AviarySecAgg

/// Every stage body survives its bytes, and a hostile body is a typed error, never a trap or
/// an allocation beyond its own size.
@Suite struct SecAggBodyCodecTests {
    func parameters() throws -> SecAggParameters {
        try SecAggParameters(round: 4, participants: [1, 4, 9, 16, 25], degree: 4, threshold: 3, graphSeed: 0xDEAD_BEEF,
                             quantiser: try FixedPointQuantiser(clippingRange: 0.125, quantisationBits: 10, modulusBits: 20),
                             vectorLength: 7)
    }

    @Test func everyStageRoundTrips() throws {
        let p = try parameters()
        let key = (0..<32).map { UInt8($0) }, other = (0..<32).map { UInt8(255 - $0) }
        let sealed = [UInt8](repeating: 7, count: ShareEncryption.ciphertextByteCount)
        let share = ShamirShare(x: 5, limbs: (0..<8).map { UInt64($0) << 50 })
        let server: [SecAggServerMessage] = [
            .advertiseKeys(p),
            .shareKeys([AdvertisedKeys(client: 4, encryptionKey: key, maskKey: other)]),
            .maskInput([EncryptedShare(from: 9, to: 4, ciphertext: sealed)]),
            .unmask(UnmaskRequest(survivors: [1, 9], dropped: [16])),
        ]
        for m in server {
            let (stage, body) = SecAggBodyCodec.encode(m)
            #expect(try SecAggBodyCodec.decodeServer(stage: stage, body: body, round: 4) == m)
        }
        let client: [SecAggClientMessage] = [
            .keys(AdvertisedKeys(client: 4, encryptionKey: key, maskKey: other)),
            .shares([EncryptedShare(from: 4, to: 9, ciphertext: sealed), EncryptedShare(from: 4, to: 1, ciphertext: sealed)]),
            .masked(MaskedInput(client: 4, values: [0, 1, 0xFFFFF, 3])),
            .unmasked(UnmaskReply(client: 4, selfMaskShares: [OwnedShare(owner: 1, share: share)],
                                  maskKeyShares: [OwnedShare(owner: 16, share: share)])),
        ]
        for m in client {
            let (stage, body) = SecAggBodyCodec.encode(m)
            #expect(try SecAggBodyCodec.decodeClient(stage: stage, body: body, client: 4) == m)
        }
    }

    @Test func hostileBodiesAreTypedErrors() throws {
        let (_, body) = SecAggBodyCodec.encode(SecAggServerMessage.advertiseKeys(try parameters()))
        #expect(throws: SecAggError.self) { try SecAggBodyCodec.decodeServer(stage: .advertiseKeys, body: Array(body.dropLast()), round: 4) }
        #expect(throws: SecAggError.self) { try SecAggBodyCodec.decodeServer(stage: .advertiseKeys, body: body + [0], round: 4) }
        // A count of 2^32 − 1 entries in an 8-byte body is refused before anything is allocated.
        #expect(throws: SecAggError.self) { try SecAggBodyCodec.decodeClient(stage: .maskedInput, body: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0], client: 0) }
        // Parameters the protocol refuses (threshold not a majority) are refused on decoding too.
        var bad = body; bad[4] = 1
        #expect(throws: SecAggError.self) { try SecAggBodyCodec.decodeServer(stage: .advertiseKeys, body: bad, round: 4) }
    }
}
