import Crypto
import _CryptoExtras
import Foundation

/// The PRG of secure aggregation: a 32-byte seed expanded into ring elements.
///
/// Exactly (docs/PROTOCOL.md, "Secure aggregation", so another language can reproduce it):
/// the ChaCha20 keystream (RFC 8439 block function) with key = seed, 96-bit nonce = 12 zero
/// bytes and 32-bit block counter starting at 0; element i is bytes 4i ..< 4i+4 of that
/// keystream read as a little-endian UInt32, reduced mod 2^b by keeping its low b bits.
/// Python's `cryptography`: `Cipher(algorithms.ChaCha20(seed, b"\0" * 16), None).encryptor()
/// .update(b"\0" * 4 * n)` gives the same bytes (its 16-byte nonce is counter ‖ nonce).
/// Every seed masks one vector once per round (keys are fresh per round), so the fixed nonce
/// never repeats a keystream for two purposes.
public enum MaskExpansion {
    /// Keystream bytes for `byteCount` bytes (swift-crypto's ChaCha20-CTR over zeros).
    public static func keystream(seed: [UInt8], byteCount: Int) throws(SecAggError) -> [UInt8] {
        guard seed.count == 32 else { throw .wrongSecretLength(expected: 32, got: seed.count) }
        guard byteCount > 0 else { return [] }
        do {
            let nonce = try Insecure.ChaCha20CTR.Nonce(data: [UInt8](repeating: 0, count: 12))
            let zeros = Data(count: byteCount)
            return [UInt8](try Insecure.ChaCha20CTR.encrypt(zeros, using: SymmetricKey(data: seed), nonce: nonce))
        } catch {
            // Only reachable on a wrong key or nonce size, both fixed above.
            throw .invalidParameters("ChaCha20 keystream failed: \(error)")
        }
    }

    /// Keystream bytes computed per call: 64 KiB (1,024 ChaCha20 blocks), so a chunk stays in
    /// L2 while it is added, and no vector-sized keystream is ever allocated.
    static let chunkBytes = 1 << 16

    /// Calls `body(first, words)` for consecutive chunks of the keystream of `seed`, read as
    /// little-endian UInt32 words: `words` holds elements `first ..< first + words.count` of
    /// the `count` requested. Chunk j is the keystream from block counter j·1024 on, so the
    /// chunks together are exactly the one stream `keystream(seed:byteCount:)` returns.
    static func forEachKeystreamChunk(seed: [UInt8], count: Int,
                                      _ body: (_ first: Int, _ words: UnsafeRawBufferPointer) -> Void) throws(SecAggError) {
        guard seed.count == 32 else { throw .wrongSecretLength(expected: 32, got: seed.count) }
        guard count > 0 else { return }
        let chunkWords = chunkBytes / 4, blocksPerChunk = chunkBytes / 64
        guard (count - 1) / chunkWords < Int(UInt32.max) / blocksPerChunk else {
            throw .invalidParameters("a vector of \(count) elements needs more than 2^32 ChaCha20 blocks")
        }
        do {
            let key = SymmetricKey(data: seed)
            let nonce = try Insecure.ChaCha20CTR.Nonce(data: [UInt8](repeating: 0, count: 12))
            let zeros = [UInt8](repeating: 0, count: 4 * min(count, chunkWords))
            var first = 0
            while first < count {
                let n = min(chunkWords, count - first)
                let counter = try Insecure.ChaCha20CTR.Counter(offset: UInt32(first / chunkWords * blocksPerChunk))
                let chunk = try Insecure.ChaCha20CTR.encrypt(zeros[0..<(4 * n)], using: key, counter: counter, nonce: nonce)
                chunk.withUnsafeBytes { body(first, $0) }
                first += n
            }
        } catch {
            // Only reachable on a wrong key, nonce or counter size, all fixed above.
            throw .invalidParameters("ChaCha20 keystream failed: \(error)")
        }
    }

    /// `count` elements of Z_{2^modulusBits} from `seed`.
    public static func expand(seed: [UInt8], count: Int, modulusBits: Int) throws(SecAggError) -> [UInt32] {
        let mask = RingArithmetic.mask(bits: modulusBits)
        var out = [UInt32](repeating: 0, count: count)
        try out.withUnsafeMutableBufferPointer { (v: inout UnsafeMutableBufferPointer<UInt32>) throws(SecAggError) in
            try forEachKeystreamChunk(seed: seed, count: count) { first, words in
                for j in 0..<(words.count / 4) {
                    v[first + j] = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)) & mask
                }
            }
        }
        return out
    }

    /// vector ± PRG(seed), in place, mod 2^modulusBits: each keystream chunk is added (or
    /// subtracted) as it is produced.
    public static func apply(seed: [UInt8], to vector: inout [UInt32], sign: MaskSign, modulusBits: Int) throws(SecAggError) {
        let mask = RingArithmetic.mask(bits: modulusBits)
        let count = vector.count
        try vector.withUnsafeMutableBufferPointer { (v: inout UnsafeMutableBufferPointer<UInt32>) throws(SecAggError) in
            try forEachKeystreamChunk(seed: seed, count: count) { first, words in
                let n = words.count / 4
                let out = UnsafeMutableBufferPointer(rebasing: v[first..<(first + n)])
                switch sign {
                case .add:
                    for j in 0..<n { out[j] = (out[j] &+ UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) & mask }
                case .subtract:
                    for j in 0..<n { out[j] = (out[j] &- UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) & mask }
                }
            }
        }
    }
}

public enum MaskSign: Sendable { case add, subtract }

/// Arithmetic in Z_{2^b}, b ≤ 32: UInt32 wrap-around with the high bits cut.
public enum RingArithmetic {
    public static func mask(bits: Int) -> UInt32 { bits >= 32 ? .max : (UInt32(1) << UInt32(bits)) - 1 }

    /// a + b mod 2^bits, element-wise, into `a`.
    public static func add(_ b: [UInt32], into a: inout [UInt32], bits: Int) {
        precondition(a.count == b.count, "ring vectors of different lengths")
        let m = mask(bits: bits)
        b.withUnsafeBufferPointer { b in
            a.withUnsafeMutableBufferPointer { a in
                for i in 0..<a.count { a[i] = (a[i] &+ b[i]) & m }
            }
        }
    }
}

/// A cryptographically strong `RandomNumberGenerator` over one 32-byte seed: the same ChaCha20
/// keystream as `MaskExpansion`, read 64 bits at a time. Shamir's coefficients come from it, so
/// a client seeded from the system's random source draws unpredictable polynomials while tests
/// seeded with fixed bytes stay reproducible.
public struct KeystreamGenerator: RandomNumberGenerator, Sendable {
    private let seed: [UInt8]
    private var buffer: [UInt64] = []
    private var position = 0
    private var blocks: UInt64 = 0
    private static let chunkWords = 512

    public init(seed: [UInt8]) throws(SecAggError) {
        guard seed.count == 32 else { throw .wrongSecretLength(expected: 32, got: seed.count) }
        self.seed = seed
    }

    public mutating func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    /// The next chunk: the keystream of a seed derived per chunk, so the 32-bit block counter
    /// of one ChaCha20 stream never limits how much is drawn.
    private mutating func refill() {
        var chunkSeed = seed
        withUnsafeBytes(of: blocks.littleEndian) { for (i, b) in $0.enumerated() { chunkSeed[i] ^= b } }
        blocks += 1
        let derived = SHA256.hash(data: chunkSeed)
        let bytes = (try? MaskExpansion.keystream(seed: Array(derived), byteCount: 8 * Self.chunkWords)) ?? []
        precondition(bytes.count == 8 * Self.chunkWords, "ChaCha20 keystream failed on a 32-byte key")
        buffer = bytes.withUnsafeBytes { raw in
            (0..<Self.chunkWords).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
        }
        position = 0
    }
}
