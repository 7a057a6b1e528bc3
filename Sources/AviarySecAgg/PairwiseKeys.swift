import Crypto
import Dispatch
import Foundation

/// X25519 key agreement and the keys secure aggregation derives from it (swift-crypto only).
///
/// Each client has two key pairs per round (Bonawitz et al.): `c` encrypts the shares sent to a
/// neighbour, `s` yields the pairwise mask seeds. A shared secret X25519(a, B) goes through
/// HKDF-SHA256 with salt `aviary secagg v2` and info `<purpose> ‖ round as UInt64 LE`, 32 bytes
/// out (docs/PROTOCOL.md, "Secure aggregation"). Both ends compute the same value.
public enum PairwiseKeys {
    public static let keyByteCount = 32
    /// The SecAgg protocol's version lives here: v2 moved the mask PRG from ChaCha20 to
    /// AES-128-CTR, and a v1 peer then derives other share keys, so mixed versions fail to open
    /// each other's shares (a dropped client) instead of summing masks that do not cancel.
    static let salt = Array("aviary secagg v2".utf8)

    public enum Purpose: String, Sendable {
        /// The ChaChaPoly key for shares between two neighbours.
        case shareEncryption = "share encryption"
        /// The PRG seed of the pairwise mask.
        case pairwiseMask = "pairwise mask"
    }

    /// The public half of a raw 32-byte private key.
    public static func publicKey(ofPrivate raw: [UInt8]) throws(SecAggError) -> [UInt8] {
        guard raw.count == keyByteCount else { throw .wrongSecretLength(expected: keyByteCount, got: raw.count) }
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) else {
            throw .invalidParameters("not an X25519 private key")
        }
        return Array(key.publicKey.rawRepresentation)
    }

    /// A raw 32-byte private key as swift-crypto's key, whose initialiser computes the public
    /// half (a base-point multiplication): a client builds each of its two keys once per round
    /// and derives every pairwise key from it, not one base-point multiplication per neighbour.
    public static func privateKey(_ raw: [UInt8]) throws(SecAggError) -> Curve25519.KeyAgreement.PrivateKey {
        guard raw.count == keyByteCount else { throw .wrongSecretLength(expected: keyByteCount, got: raw.count) }
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) else {
            throw .invalidParameters("not an X25519 private key")
        }
        return key
    }

    /// HKDF(X25519(privateKey, peerPublic)) for `purpose` and `round`.
    /// - Throws: `invalidPublicKey(client: peer)` for a peer key X25519 refuses.
    public static func derive(privateKey: [UInt8], peerPublic: [UInt8], peer: Int,
                              purpose: Purpose, round: Int) throws(SecAggError) -> [UInt8] {
        guard privateKey.count == keyByteCount else { throw .wrongSecretLength(expected: keyByteCount, got: privateKey.count) }
        guard let own = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey) else { throw .invalidPublicKey(client: peer) }
        return try derive(privateKey: own, peerPublic: peerPublic, peer: peer, purpose: purpose, round: round)
    }

    /// The same from a key built once (`privateKey(_:)`).
    public static func derive(privateKey own: Curve25519.KeyAgreement.PrivateKey, peerPublic: [UInt8], peer: Int,
                              purpose: Purpose, round: Int) throws(SecAggError) -> [UInt8] {
        guard peerPublic.count == keyByteCount,
              let other = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: peerPublic),
              let shared = try? own.sharedSecretFromKeyAgreement(with: other)
        else { throw .invalidPublicKey(client: peer) }
        var info = Array(purpose.rawValue.utf8)
        withUnsafeBytes(of: UInt64(truncatingIfNeeded: round).littleEndian) { info.append(contentsOf: $0) }
        let key = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: salt, sharedInfo: info, outputByteCount: keyByteCount)
        return key.withUnsafeBytes { Array($0) }
    }

    /// `derive` for each of `peers` (index, public key), in their order, the agreements shared
    /// out over `threads` threads (peer i to thread i mod threads). Why: a client's 14
    /// agreements per stage were one thread's work, so when one client process still had
    /// clients to answer after the other had finished, a core stood idle (perf timeline of a
    /// run, session 14). The result does not depend on the thread count; the first failing
    /// peer's error is thrown.
    public static func deriveAll(privateKey own: Curve25519.KeyAgreement.PrivateKey, peers: [(index: Int, publicKey: [UInt8])],
                                 purpose: Purpose, round: Int, threads: Int = MaskExpansion.availableCores) throws(SecAggError) -> [[UInt8]] {
        let workers = max(1, min(threads, peers.count))
        guard workers > 1 else {
            var out: [[UInt8]] = []
            for p in peers { out.append(try derive(privateKey: own, peerPublic: p.publicKey, peer: p.index, purpose: purpose, round: round)) }
            return out
        }
        var results = [Result<[UInt8], SecAggError>?](repeating: nil, count: peers.count)
        results.withUnsafeMutableBufferPointer { r in
            let slots = ResultSlots(base: r.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in stride(from: w, to: peers.count, by: workers) {
                    let p = peers[i]
                    do throws(SecAggError) {
                        slots.base[i] = .success(try derive(privateKey: own, peerPublic: p.publicKey, peer: p.index, purpose: purpose, round: round))
                    } catch { slots.base[i] = .failure(error) }
                }
            }
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(peers.count)
        for r in results { out.append(try r!.get()) }
        return out
    }

    /// The result slots `deriveAll`'s threads fill. Safe to send: each thread writes only its own
    /// indices, and the array outlives `concurrentPerform`.
    private struct ResultSlots: @unchecked Sendable { let base: UnsafeMutablePointer<Result<[UInt8], SecAggError>?> }
}

/// The two shares a client sends one neighbour, encrypted with ChaChaPoly (RFC 8439).
///
/// Key: `PairwiseKeys.derive(.shareEncryption)`. Both directions of a pair share that key, so
/// the nonce names the direction: sender as UInt32 LE ‖ receiver as UInt32 LE ‖ 4 zero bytes.
/// Associated data: round as UInt64 LE ‖ sender ‖ receiver (UInt32 LE each), so a ciphertext
/// cannot be replayed to another pair or round. Plaintext: the mask-key share ‖ the self-mask
/// share (`ShamirShare.bytes`, 68 bytes each). Wire: ciphertext ‖ 16-byte tag.
public enum ShareEncryption {
    public static let plaintextByteCount = 2 * ShamirShare.byteCount
    public static let ciphertextByteCount = plaintextByteCount + 16

    public struct SharePair: Sendable, Equatable {
        public var maskKey: ShamirShare
        public var selfMask: ShamirShare
        public init(maskKey: ShamirShare, selfMask: ShamirShare) { self.maskKey = maskKey; self.selfMask = selfMask }
    }

    static func nonceAndData(round: Int, from: Int, to: Int) -> (nonce: [UInt8], data: [UInt8]) {
        var nonce = [UInt8](), data = [UInt8]()
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: from).littleEndian) { nonce.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: to).littleEndian) { nonce.append(contentsOf: $0) }
        nonce.append(contentsOf: [0, 0, 0, 0])
        withUnsafeBytes(of: UInt64(truncatingIfNeeded: round).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: nonce[0..<8])
        return (nonce, data)
    }

    public static func seal(_ pair: SharePair, key: [UInt8], round: Int, from: Int, to: Int) throws(SecAggError) -> [UInt8] {
        let (nonce, data) = nonceAndData(round: round, from: from, to: to)
        do {
            let box = try ChaChaPoly.seal(pair.maskKey.bytes + pair.selfMask.bytes, using: SymmetricKey(data: key),
                                          nonce: ChaChaPoly.Nonce(data: nonce), authenticating: data)
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw .invalidParameters("ChaChaPoly seal failed: \(error)")
        }
    }

    /// - Throws: `decryptionFailed` for a wrong length, key, pair or round, or a forged tag;
    ///   a malformed share inside an authentic box.
    public static func open(_ sealed: [UInt8], key: [UInt8], round: Int, from: Int, to: Int) throws(SecAggError) -> SharePair {
        guard sealed.count == ciphertextByteCount else { throw .decryptionFailed(from: from, to: to) }
        let (nonce, data) = nonceAndData(round: round, from: from, to: to)
        let plain: [UInt8]
        do {
            let box = try ChaChaPoly.SealedBox(nonce: ChaChaPoly.Nonce(data: nonce),
                                               ciphertext: sealed[0..<plaintextByteCount], tag: sealed[plaintextByteCount...])
            plain = Array(try ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: data))
        } catch {
            throw .decryptionFailed(from: from, to: to)
        }
        return SharePair(maskKey: try ShamirShare(bytes: plain[0..<ShamirShare.byteCount]),
                         selfMask: try ShamirShare(bytes: plain[ShamirShare.byteCount...]))
    }
}
