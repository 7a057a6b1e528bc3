import AviaryProtocol
import CZmq

/// A CURVE key pair in Z85 text (40 characters each), as ZeroMQ's tools write them.
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey; self.secretKey = secretKey
    }

    /// True when this libzmq was built with CURVE (libsodium); Debian's is.
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    /// Fails with a message saying what to install when libzmq has no CURVE.
    public static func requireAvailable() throws(ZmqError) {
        guard isAvailable else { throw .curveUnavailable }
    }

    /// A fresh key pair from libzmq (libsodium's random source).
    public static func generate() throws(ZmqError) -> CurveKeyPair {
        try requireAvailable()
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZmqError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: Self.text(pub), secretKey: Self.text(sec))
    }

    /// The public key that belongs to `secretKey` (Z85); nil when `secretKey` is not a Z85 key.
    public static func publicKey(forSecret secretKey: String) throws(ZmqError) -> String? {
        try requireAvailable()
        guard isZ85Key(secretKey) else { return nil }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { return nil }
        return text(pub)
    }

    /// A Z85 key is 40 characters of the Z85 alphabet (32 bytes encoded).
    public static func isZ85Key(_ s: String) -> Bool { AllowList.isZ85Key(s) }

    /// Z85 of 32 raw key bytes (the ZAP credential frame).
    static func z85(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard bytes.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, bytes.bindMemory(to: UInt8.self).baseAddress, 32) != nil else { return nil }
        return text(out)
    }

    private static func text(_ c: [CChar]) -> String {
        String(decoding: c.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// How an endpoint secures its connections. `.plaintext` is for loopback simulation; CURVE
/// encrypts every frame and authenticates both ends (docs/PROTOCOL.md, "Security").
public enum ServerSecurity: Sendable, Equatable {
    case plaintext
    /// The server's key pair and the client public keys its ZAP handler accepts (the
    /// allow-list's index bindings are checked by the server's state machine).
    case curve(server: CurveKeyPair, allowList: AllowList)

    /// The allow-list, with CURVE.
    public var allowList: AllowList? { if case let .curve(_, list) = self { list } else { nil } }

    public var isCurve: Bool { if case .curve = self { true } else { false } }
}

/// A client's CURVE settings: its own key pair and the server's public key.
public struct ClientCurve: Sendable, Equatable {
    public var client: CurveKeyPair
    public var serverPublicKey: String
    public init(client: CurveKeyPair, serverPublicKey: String) {
        self.client = client; self.serverPublicKey = serverPublicKey
    }
}
