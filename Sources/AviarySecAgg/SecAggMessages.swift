/// The stage messages of secure aggregation as values. AviaryProtocol carries them on the wire;
/// here they are what the state machines take and return.

/// Stage 1, client → server: the two public keys of the round.
public struct AdvertisedKeys: Sendable, Equatable {
    public var client: Int
    public var encryptionKey: [UInt8]
    public var maskKey: [UInt8]
    public init(client: Int, encryptionKey: [UInt8], maskKey: [UInt8]) {
        self.client = client; self.encryptionKey = encryptionKey; self.maskKey = maskKey
    }
}

/// Stage 2, client → server → neighbour: one neighbour's two shares, sealed to it.
public struct EncryptedShare: Sendable, Equatable {
    public var from: Int
    public var to: Int
    public var ciphertext: [UInt8]
    public init(from: Int, to: Int, ciphertext: [UInt8]) { self.from = from; self.to = to; self.ciphertext = ciphertext }
}

/// Stage 3, client → server: the quantised input plus all masks, in Z_{2^b}.
public struct MaskedInput: Sendable, Equatable {
    public var client: Int
    public var values: [UInt32]
    public init(client: Int, values: [UInt32]) { self.client = client; self.values = values }
}

/// Stage 4, server → client: which of its neighbours survived masking and which dropped.
public struct UnmaskRequest: Sendable, Equatable {
    public var survivors: [Int]
    public var dropped: [Int]
    public init(survivors: [Int], dropped: [Int]) { self.survivors = survivors; self.dropped = dropped }
}

/// One revealed share and the client whose secret it belongs to.
public struct OwnedShare: Sendable, Equatable {
    public var owner: Int
    public var share: ShamirShare
    public init(owner: Int, share: ShamirShare) { self.owner = owner; self.share = share }
}

/// Stage 4, client → server: self-mask shares of surviving neighbours, mask-key shares of
/// dropped ones; never both kinds for one neighbour.
public struct UnmaskReply: Sendable, Equatable {
    public var client: Int
    public var selfMaskShares: [OwnedShare]
    public var maskKeyShares: [OwnedShare]
    public init(client: Int, selfMaskShares: [OwnedShare], maskKeyShares: [OwnedShare]) {
        self.client = client; self.selfMaskShares = selfMaskShares; self.maskKeyShares = maskKeyShares
    }
}

/// What the server sends a client at each stage.
public enum SecAggServerMessage: Sendable, Equatable {
    /// Stage 1: the round's parameters; answer with `AdvertisedKeys`.
    case advertiseKeys(SecAggParameters)
    /// Stage 2: the keys of the neighbours that advertised; answer with their encrypted shares.
    case shareKeys([AdvertisedKeys])
    /// Stage 3: the shares neighbours sent this client; answer with the masked input.
    case maskInput([EncryptedShare])
    /// Stage 4: answer with an `UnmaskReply`.
    case unmask(UnmaskRequest)
}

/// What a client answers.
public enum SecAggClientMessage: Sendable, Equatable {
    case keys(AdvertisedKeys)
    case shares([EncryptedShare])
    case masked(MaskedInput)
    case unmasked(UnmaskReply)

    var stageName: String {
        switch self {
        case .keys: return "advertise-keys"
        case .shares: return "share-keys"
        case .masked: return "masked-input"
        case .unmasked: return "unmasking"
        }
    }
}
