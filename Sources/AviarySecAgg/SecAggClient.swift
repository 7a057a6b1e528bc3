import Crypto

/// One client's side of a secure-aggregation round as a value: each server message in, the
/// answer out, or a typed error (the client then sends nothing for this round; the server
/// counts it as dropped). The host supplies the round's fresh secrets and, at stage 3, the
/// quantised input.
public struct SecAggClient: Sendable {
    public enum Stage: String, Sendable, Equatable {
        case start = "advertise-keys", advertised = "share-keys", shared = "masked-input", masked = "unmasking"
    }

    public let index: Int
    public let parameters: SecAggParameters
    private let secrets: ClientSecrets
    /// `secrets`' two X25519 private keys as swift-crypto keys, built once (each build is a
    /// base-point multiplication) for stage 1's public keys and every agreement after it.
    private let encryptionKey: Curve25519.KeyAgreement.PrivateKey
    private let maskKey: Curve25519.KeyAgreement.PrivateKey
    public private(set) var stage: Stage = .start
    /// Neighbours that advertised keys (stage 2's U1 ∩ N(i)): neighbour → its keys.
    private var neighbourKeys: [Int: AdvertisedKeys] = [:]
    /// The share-encryption key of each neighbour that advertised (stage 2 sealed with it, stage
    /// 3 opens with it): derived once, not again per share (an X25519 each).
    private var sealingKeys: [Int: [UInt8]] = [:]
    /// Pairwise-mask seeds s_ij derived ahead of stage 3 (`prepareMaskSeeds`): neighbour → seed.
    /// Stage 3 derives any that are missing.
    private var maskSeeds: [Int: [UInt8]] = [:]
    /// Shares neighbours entrusted to this client (stage 3's U2 ∩ N(i)): owner → shares.
    private var heldShares: [Int: ShareEncryption.SharePair] = [:]
    /// Whose shares this client holds (tests: what a coalition of neighbours can pool).
    var heldOwners: [Int] { heldShares.keys.sorted() }
    func heldShares(of owner: Int) -> ShareEncryption.SharePair? { heldShares[owner] }
    /// What this client revealed, so it never reveals both kinds for one owner, even across
    /// two unmasking requests.
    private var revealedSelfMask: Set<Int> = []
    private var revealedMaskKey: Set<Int> = []

    public init(index: Int, parameters: SecAggParameters, secrets: ClientSecrets) throws(SecAggError) {
        guard parameters.participants.contains(index) else { throw .unknownClient(index) }
        self.index = index; self.parameters = parameters; self.secrets = secrets
        encryptionKey = try PairwiseKeys.privateKey(secrets.encryptionKey)
        maskKey = try PairwiseKeys.privateKey(secrets.maskKey)
    }

    /// Stage 1: this round's two public keys.
    public mutating func advertiseKeys() throws(SecAggError) -> AdvertisedKeys {
        guard stage == .start else { throw .unexpectedStage(expected: stage.rawValue, got: "advertise-keys") }
        let keys = AdvertisedKeys(client: index, encryptionKey: Array(encryptionKey.publicKey.rawRepresentation),
                                  maskKey: Array(maskKey.publicKey.rawRepresentation))
        stage = .advertised
        return keys
    }

    /// Stage 2: Shamir-shares the mask key and the self-mask seed among the neighbours that
    /// advertised, each pair of shares sealed to its neighbour.
    /// - Throws: keys from a non-neighbour or listed twice; fewer than t neighbours left.
    public mutating func shareKeys(_ keys: [AdvertisedKeys]) throws(SecAggError) -> [EncryptedShare] {
        guard stage == .advertised else { throw .unexpectedStage(expected: stage.rawValue, got: "share-keys") }
        var received: [Int: AdvertisedKeys] = [:]
        for k in keys {
            guard parameters.graph.areNeighbours(index, k.client) else { throw .notANeighbour(client: k.client, of: index) }
            guard received.updateValue(k, forKey: k.client) == nil else { throw .duplicateShareIndex(UInt64(k.client) + 1) }
        }
        guard received.count >= parameters.threshold else {
            throw .tooFewSurvivors(stage: "advertise-keys", have: received.count, threshold: parameters.threshold)
        }
        let holders = received.keys.sorted()
        var generator = try KeystreamGenerator(seed: secrets.sharingSeed)
        let maskKeyShares = try ShamirSharing.split(secret: secrets.maskKey, threshold: parameters.threshold,
                                                    participants: holders, using: &generator)
        let selfMaskShares = try ShamirSharing.split(secret: secrets.selfMaskSeed, threshold: parameters.threshold,
                                                     participants: holders, using: &generator)
        var out: [EncryptedShare] = []
        var sealing: [Int: [UInt8]] = [:]
        let keys = try PairwiseKeys.deriveAll(privateKey: encryptionKey, peers: holders.map { ($0, received[$0]!.encryptionKey) },
                                              purpose: .shareEncryption, round: parameters.round)
        for (n, holder) in holders.enumerated() {
            let key = keys[n]
            sealing[holder] = key
            let pair = ShareEncryption.SharePair(maskKey: maskKeyShares[n], selfMask: selfMaskShares[n])
            out.append(EncryptedShare(from: index, to: holder,
                                      ciphertext: try ShareEncryption.seal(pair, key: key, round: parameters.round, from: index, to: holder)))
        }
        neighbourKeys = received
        sealingKeys = sealing
        stage = .shared
        return out
    }

    /// Stage 3: keeps the shares neighbours sent, and masks `input` (already quantised, in
    /// Z_{2^b}) with PRG(self-mask seed) and ±PRG(s_ij) for each neighbour j that shared:
    /// + when this client's index is below j's, − above, so each pair cancels in the sum.
    /// `input` is masked in place when the caller hands over its only reference (consuming): a
    /// model's length of words is not copied.
    /// - Throws: a share not addressed to this client or from a neighbour without keys, one that
    ///   does not authenticate, fewer than t senders, an input of the wrong length or range.
    public mutating func maskInput(shares: [EncryptedShare], input: consuming [UInt32]) throws(SecAggError) -> MaskedInput {
        let count = input.count
        var failure: SecAggError?
        input.withUnsafeMutableBufferPointer { v in
            do throws(SecAggError) { try mask(shares: shares, words: v.baseAddress, count: count) } catch { failure = error }
        }
        if let failure { throw failure }
        return MaskedInput(client: index, values: input)
    }

    /// Stage 3 as `maskInput(shares:input:)`, on an input quantised into its reply body
    /// (`FixedPointQuantiser.quantiseWeightedBody`): masked in place, the body is the SECAGG_REPLY
    /// body `SecAggBodyCodec.encode(.masked(_:))` would write for the same words.
    public mutating func maskInput(shares: [EncryptedShare], body: consuming MaskedInputBody) throws(SecAggError) -> MaskedInputBody {
        let count = body.count
        try body.withWords { (w: UnsafeMutablePointer<UInt32>) throws(SecAggError) in try mask(shares: shares, words: w, count: count) }
        body.finish()
        return body
    }

    /// Stage 3's work on `count` words at `words` (nil only when count is 0): checks, opens the
    /// shares, masks in place, moves to `.masked`.
    private mutating func mask(shares: [EncryptedShare], words: UnsafeMutablePointer<UInt32>?, count: Int) throws(SecAggError) {
        guard stage == .shared else { throw .unexpectedStage(expected: stage.rawValue, got: "masked-input") }
        guard count == parameters.vectorLength else {
            throw .wrongInputLength(expected: parameters.vectorLength, got: count)
        }
        let ringMask = RingArithmetic.mask(bits: parameters.modulusBits)
        if ringMask != .max, let words, let bad = (0..<count).first(where: { words[$0] & ~ringMask != 0 }) {  // Z_2^32: every word is in the ring
            throw .invalidParameters("input coordinate \(bad) is outside Z_2^\(parameters.modulusBits)")
        }
        var held: [Int: ShareEncryption.SharePair] = [:]
        for share in shares {
            guard share.to == index, let keys = neighbourKeys[share.from] else { throw .notANeighbour(client: share.from, of: index) }
            guard held[share.from] == nil else { throw .duplicateShareIndex(UInt64(share.from) + 1) }
            let key: [UInt8]
            if let known = sealingKeys[share.from] { key = known } else {
                key = try PairwiseKeys.derive(privateKey: encryptionKey, peerPublic: keys.encryptionKey,
                                              peer: share.from, purpose: .shareEncryption, round: parameters.round)
            }
            let pair = try ShareEncryption.open(share.ciphertext, key: key, round: parameters.round, from: share.from, to: index)
            // A share must sit at this client's own x-coordinate.
            guard pair.maskKey.x == UInt64(index) + 1, pair.selfMask.x == UInt64(index) + 1 else {
                throw .decryptionFailed(from: share.from, to: index)
            }
            held[share.from] = pair
        }
        guard held.count >= parameters.threshold else {
            throw .tooFewSurvivors(stage: "share-keys", have: held.count, threshold: parameters.threshold)
        }
        try deriveMaskSeeds(for: held.keys.filter { maskSeeds[$0] == nil })
        var masks = [MaskExpansion.Mask(seed: secrets.selfMaskSeed, sign: .add)]
        for neighbour in held.keys.sorted() {
            masks.append(MaskExpansion.Mask(seed: maskSeeds[neighbour]!, sign: index < neighbour ? .add : .subtract))
        }
        if let words { try MaskExpansion.apply(masks, to: words, count: count, modulusBits: parameters.modulusBits) }
        heldShares = held
        stage = .masked
    }

    /// Between stages 2 and 3: derives the pairwise-mask seed of every neighbour that advertised
    /// keys (U1 ∩ N(i), a superset of the neighbours stage 3 masks with), one X25519 agreement
    /// and HKDF each, so stage 3 only opens shares and masks. Why: stage 3 can start only when
    /// every client has answered stage 2, and a client host calls this while it waits for that
    /// (`SecAggWorker`'s idle jobs), instead of spending those agreements inside stage 3. The
    /// seeds are the ones stage 3 would derive; unused ones (a neighbour that did not share) are
    /// never used. Secrets stay in this value, like the share-encryption keys.
    /// - Throws: outside stage `.shared` (`unexpectedStage`); a key swift-crypto refuses.
    public mutating func prepareMaskSeeds() throws(SecAggError) {
        guard stage == .shared else { throw .unexpectedStage(expected: stage.rawValue, got: "prepare-mask-seeds") }
        try deriveMaskSeeds(for: neighbourKeys.keys.filter { maskSeeds[$0] == nil })
    }

    /// s_ij with each neighbour j in `neighbours` (X25519 of this client's mask key and j's,
    /// through HKDF; over the cores), into `maskSeeds`.
    private mutating func deriveMaskSeeds(for neighbours: [Int]) throws(SecAggError) {
        let sorted = neighbours.sorted()
        let seeds = try PairwiseKeys.deriveAll(privateKey: maskKey, peers: sorted.map { ($0, neighbourKeys[$0]!.maskKey) },
                                               purpose: .pairwiseMask, round: parameters.round)
        for (n, seed) in zip(sorted, seeds) { maskSeeds[n] = seed }
    }

    /// Stage 4: reveals the self-mask share of each surviving neighbour and the mask-key share
    /// of each dropped one. An honest client refuses (`doubleRequest`) a request that names one
    /// neighbour in both lists, or that, with an earlier request, would reveal both of its
    /// shares: together they would unmask that client's own input. Repeating an earlier request
    /// (a lost reply) is answered again.
    /// - Throws: also a named client whose shares this client does not hold.
    public mutating func unmask(_ request: UnmaskRequest) throws(SecAggError) -> UnmaskReply {
        guard stage == .masked else { throw .unexpectedStage(expected: stage.rawValue, got: "unmasking") }
        let survivors = Set(request.survivors), dropped = Set(request.dropped)
        if let both = survivors.intersection(dropped).min() { throw .doubleRequest(client: both) }
        if let both = survivors.intersection(revealedMaskKey).min() { throw .doubleRequest(client: both) }
        if let both = dropped.intersection(revealedSelfMask).min() { throw .doubleRequest(client: both) }
        for c in survivors.union(dropped) where heldShares[c] == nil { throw .notANeighbour(client: c, of: index) }
        revealedSelfMask.formUnion(survivors); revealedMaskKey.formUnion(dropped)
        return UnmaskReply(client: index,
                           selfMaskShares: survivors.sorted().map { OwnedShare(owner: $0, share: heldShares[$0]!.selfMask) },
                           maskKeyShares: dropped.sorted().map { OwnedShare(owner: $0, share: heldShares[$0]!.maskKey) })
    }
}
