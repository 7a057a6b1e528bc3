/// A completed round: the sum of the survivors' quantised inputs in Z_{2^b}, and who survived.
public struct SecAggResult: Sendable, Equatable {
    /// Σ over `survivors` of their quantised inputs, mod 2^b (equal to the integer sum when the
    /// parameters were validated for the round's participant count).
    public var sum: [UInt32]
    /// U3: the clients whose inputs are in the sum, ascending.
    public var survivors: [Int]
    /// How many clients answered each stage: advertise keys, share keys, masked input, unmasking.
    public var survivorsPerStage: [Int]
}

extension SecAggServer {
    mutating func acceptKeys(_ k: AdvertisedKeys, from client: Int) throws(SecAggError) {
        guard k.client == client else { throw .unknownClient(k.client) }
        guard k.encryptionKey.count == PairwiseKeys.keyByteCount, k.maskKey.count == PairwiseKeys.keyByteCount,
              k.encryptionKey != k.maskKey
        else { throw .invalidPublicKey(client: client) }
        keys[client] = k
    }

    /// Exactly one sealed pair for each neighbour that advertised keys, of the sealed size.
    mutating func acceptShares(_ sealed: [EncryptedShare], from client: Int) throws(SecAggError) {
        let due = Set(parameters.graph.neighbours(of: client).filter { keys[$0] != nil })
        var seen = Set<Int>()
        for s in sealed {
            guard s.from == client else { throw .unknownClient(s.from) }
            guard due.contains(s.to) else { throw .notANeighbour(client: s.to, of: client) }
            guard seen.insert(s.to).inserted else { throw .duplicateShareIndex(UInt64(s.to) + 1) }
            guard s.ciphertext.count == ShareEncryption.ciphertextByteCount else {
                throw .truncated(what: "an encrypted share pair", needed: ShareEncryption.ciphertextByteCount, have: s.ciphertext.count)
            }
        }
        guard seen == due else {
            throw .invalidParameters("client \(client) sent shares to \(seen.count) of its \(due.count) neighbours with keys")
        }
        shares[client] = sealed
    }

    mutating func acceptMasked(_ m: MaskedInput, from client: Int) throws(SecAggError) {
        guard m.client == client else { throw .unknownClient(m.client) }
        guard m.values.count == parameters.vectorLength else {
            throw .wrongInputLength(expected: parameters.vectorLength, got: m.values.count)
        }
        let ringMask = RingArithmetic.mask(bits: parameters.modulusBits)
        // In Z_2^32 every word is a ring element: nothing to scan.
        if ringMask != .max, let bad = m.values.firstIndex(where: { $0 & ~ringMask != 0 }) {
            throw .invalidParameters("masked coordinate \(bad) is outside Z_2^\(parameters.modulusBits)")
        }
        // Ring addition commutes, so the running sum is the sum over U3 in any arrival order.
        if maskedSum.isEmpty { maskedSum = m.values } else { RingArithmetic.add(m.values, into: &maskedSum, bits: parameters.modulusBits) }
        maskedClients.insert(client)
    }

    /// The reply answers exactly the request sent, each share at the replier's x-coordinate.
    mutating func acceptReply(_ r: UnmaskReply, from client: Int) throws(SecAggError) {
        guard r.client == client, let request = requests[client] else { throw .unknownClient(r.client) }
        let x = UInt64(client) + 1
        guard r.selfMaskShares.map(\.owner) == request.survivors, r.maskKeyShares.map(\.owner) == request.dropped,
              (r.selfMaskShares + r.maskKeyShares).allSatisfy({ $0.share.x == x && $0.share.limbs.count == ShamirSharing.limbCount })
        else { throw .invalidParameters("client \(client)'s unmasking reply does not answer the request it was sent") }
        replies[client] = r
    }

    /// Σ y_i − Σ PRG(b_i) over survivors, minus what survivors added for dropped neighbours.
    func unmaskedSum() throws(SecAggError) -> SecAggResult {
        let t = parameters.threshold, bits = parameters.modulusBits
        var selfShares: [Int: [ShamirShare]] = [:], keyShares: [Int: [ShamirShare]] = [:]
        for replier in replies.keys.sorted() {
            for s in replies[replier]!.selfMaskShares { selfShares[s.owner, default: []].append(s.share) }
            for s in replies[replier]!.maskKeyShares { keyShares[s.owner, default: []].append(s.share) }
        }
        let survivors = maskedClients.sorted()
        var sum = maskedSum.isEmpty ? [UInt32](repeating: 0, count: parameters.vectorLength) : maskedSum
        // Every mask to remove, applied in one slice-major pass at the end.
        var masks: [MaskExpansion.Mask] = []
        for client in survivors {
            let have = selfShares[client] ?? []
            guard have.count >= t else { throw .cannotReconstruct(client: client, secret: "self-mask seed", shares: have.count, threshold: t) }
            masks.append(MaskExpansion.Mask(seed: try ShamirSharing.reconstruct(shares: have, threshold: t), sign: .subtract))
        }
        let droppedAfterSharing = shares.keys.filter { !maskedClients.contains($0) }.sorted()
        for dropped in droppedAfterSharing {
            // Only neighbours that survived masked with it; nobody else needs its key.
            let maskedWith = parameters.graph.neighbours(of: dropped).filter { maskedClients.contains($0) }
            guard !maskedWith.isEmpty else { continue }
            let have = keyShares[dropped] ?? []
            guard have.count >= t else { throw .cannotReconstruct(client: dropped, secret: "mask key", shares: have.count, threshold: t) }
            let secretKey = try ShamirSharing.reconstruct(shares: have, threshold: t)
            for survivor in maskedWith {
                let seed = try PairwiseKeys.derive(privateKey: secretKey, peerPublic: keys[survivor]!.maskKey, peer: survivor,
                                                   purpose: .pairwiseMask, round: parameters.round)
                // The survivor added +PRG when its index was below the dropped client's: undo it.
                masks.append(MaskExpansion.Mask(seed: seed, sign: survivor < dropped ? .subtract : .add))
            }
        }
        try MaskExpansion.apply(masks, to: &sum, modulusBits: bits)
        return SecAggResult(sum: sum, survivors: survivors, survivorsPerStage: survivorsPerStage)
    }
}
