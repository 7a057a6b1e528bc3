/// Everything that can go wrong in secure aggregation, each case with what and where.
///
/// Thrown by the pure layer (sharing, masking, quantisation) and by the stage state machines;
/// a server never crashes on what a peer sends, it turns these into a dropped client or a
/// failed round with the error's description as the reason.
public enum SecAggError: Error, Equatable, Sendable, CustomStringConvertible {
    // Shamir sharing.
    case invalidThreshold(threshold: Int, shares: Int)
    case invalidShareIndex(Int)
    case duplicateShareIndex(UInt64)
    case tooFewShares(have: Int, threshold: Int)
    case shareLengthMismatch(expected: Int, got: Int)
    case limbOutOfField(index: Int)
    case inconsistentShares
    // Byte formats.
    case wrongSecretLength(expected: Int, got: Int)
    case truncated(what: String, needed: Int, have: Int)
    case invalidPublicKey(client: Int)
    case decryptionFailed(from: Int, to: Int)
    // Parameters.
    case invalidParameters(String)
    case sumCouldWrap(clients: Int, levels: UInt64, modulusBits: Int)
    case nonFiniteInput(index: Int)
    case wrongInputLength(expected: Int, got: Int)
    // Stages.
    case unexpectedStage(expected: String, got: String)
    case notANeighbour(client: Int, of: Int)
    case unknownClient(Int)
    case doubleRequest(client: Int)
    case tooFewSurvivors(stage: String, have: Int, threshold: Int)
    case cannotReconstruct(client: Int, secret: String, shares: Int, threshold: Int)

    public var description: String {
        switch self {
        case .invalidThreshold(let t, let n):
            return "reconstruction threshold \(t) must be at least 1 and at most the \(n) shares"
        case .invalidShareIndex(let i):
            return "share index \(i) is not a valid x-coordinate (must be 1 ..< 2^31)"
        case .duplicateShareIndex(let x):
            return "two shares carry the same x-coordinate \(x)"
        case .tooFewShares(let have, let t):
            return "\(have) shares cannot reconstruct a secret with threshold \(t)"
        case .shareLengthMismatch(let expected, let got):
            return "a share has \(got) limbs where \(expected) were expected"
        case .limbOutOfField(let index):
            return "share limb \(index) is not an element of the field (≥ 2^61 − 1)"
        case .inconsistentShares:
            return "the shares do not come from one secret (a reconstructed limb exceeds 32 bits)"
        case .wrongSecretLength(let expected, let got):
            return "a secret of \(got) bytes where \(expected) were expected"
        case .truncated(let what, let needed, let have):
            return "\(what) needs \(needed) bytes, got \(have)"
        case .invalidPublicKey(let client):
            return "client \(client)'s public key is not a valid X25519 key"
        case .decryptionFailed(let from, let to):
            return "the shares client \(from) encrypted to client \(to) do not authenticate"
        case .invalidParameters(let why):
            return why
        case .sumCouldWrap(let n, let levels, let bits):
            return "\(n) clients × \(levels) quantisation levels can exceed the modulus 2^\(bits): the sum would wrap"
        case .nonFiniteInput(let index):
            return "input coordinate \(index) is not finite"
        case .wrongInputLength(let expected, let got):
            return "an input of \(got) coordinates where \(expected) were expected"
        case .unexpectedStage(let expected, let got):
            return "a \(got) message arrived while the round expects \(expected)"
        case .notANeighbour(let client, let of):
            return "client \(client) is not a neighbour of client \(of)"
        case .unknownClient(let c):
            return "client \(c) is not a participant of this round"
        case .doubleRequest(let c):
            return "refused: the server asked for both the self-mask share and the mask-key share of client \(c)"
        case .tooFewSurvivors(let stage, let have, let t):
            return "only \(have) clients survived \(stage); the reconstruction threshold is \(t)"
        case .cannotReconstruct(let c, let secret, let shares, let t):
            return "client \(c)'s \(secret) has \(shares) shares, fewer than the threshold \(t)"
        }
    }
}
