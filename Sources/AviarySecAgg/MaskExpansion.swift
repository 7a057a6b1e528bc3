import Crypto
import _CryptoExtras
import AviaryMath
import CVectorKernels
import Dispatch
import Foundation

/// The PRG of secure aggregation: a 32-byte seed expanded into ring elements.
///
/// Exactly (docs/PROTOCOL.md, "Secure aggregation", so another language can reproduce it):
/// the AES-128-CTR keystream (NIST SP 800-38A) with key = the seed's first 16 bytes and initial
/// counter block = 16 zero bytes, incremented as one 128-bit big-endian integer; element i is
/// bytes 4i ..< 4i+4 of that keystream read as a little-endian UInt32, reduced mod 2^b by
/// keeping its low b bits. Python's `cryptography`: `Cipher(algorithms.AES(seed[:16]),
/// modes.CTR(b"\0" * 16)).encryptor().update(b"\0" * 4 * n)` gives the same bytes.
/// Every seed masks one vector once per round (keys are fresh per round), so the fixed counter
/// never repeats a keystream for two purposes. Why AES-128 and not ChaCha20 (secagg v1): with
/// AES-NI it is 1.5–1.8× faster through swift-crypto (`aviary bench secagg --prg`), and a
/// 128-bit key matches X25519's security level, the protocol's weakest link anyway.
///
/// Masks are expanded with libgcrypt's AES-128-CTR (`AESCounterKeystream`: into a reused buffer,
/// VAES where the CPU has it); `keystream` computes the same bytes with swift-crypto, and the
/// tests hold the two to each other.
public enum MaskExpansion {
    /// Keystream bytes for `byteCount` bytes (swift-crypto's `AES._CTR` over zeros): the reference
    /// for the expansion `apply` does with libgcrypt.
    public static func keystream(seed: [UInt8], byteCount: Int) throws(SecAggError) -> [UInt8] {
        try keystream(seed: seed, byteCount: byteCount, firstBlock: 0)
    }

    /// The same from counter block `firstBlock` (tests: libgcrypt's keystream at any counter).
    static func keystream(seed: [UInt8], byteCount: Int, firstBlock: UInt64) throws(SecAggError) -> [UInt8] {
        guard seed.count == 32 else { throw .wrongSecretLength(expected: 32, got: seed.count) }
        guard byteCount > 0 else { return [] }
        return [UInt8](try aesCTR(zeros: Data(count: byteCount), key: SymmetricKey(data: seed[0..<16]), firstBlock: firstBlock))
    }

    /// swift-crypto's AES-CTR over `zeros` from counter block `firstBlock` (a 128-bit big-endian
    /// integer whose high 64 bits are 0).
    private static func aesCTR<Zeros: DataProtocol>(zeros: Zeros, key: SymmetricKey, firstBlock: UInt64) throws(SecAggError) -> Data {
        var counter = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: firstBlock.bigEndian) { for i in 0..<8 { counter[8 + i] = $0[i] } }
        do {
            return try AES._CTR.encrypt(zeros, using: key, nonce: AES._CTR.Nonce(nonceBytes: counter))
        } catch {
            // Only reachable on a wrong key or counter size, both fixed here.
            throw .invalidParameters("AES-CTR keystream failed: \(error)")
        }
    }

    /// Keystream bytes computed per call, and the vector slice they are added to: 8 KiB (512 AES
    /// blocks), so the slice and its keystream chunk (16 KiB together, plus 8 KiB of zeros) stay
    /// in L1 while all 1 + k masks are added, and the AVX-512 addition runs at L1 speed; with
    /// 64 KiB slices (L2) it was bound by loads and no faster than the SSE2 loop. libgcrypt's CTR
    /// rate is flat from 4 KiB to 64 KiB. A C model of a client's 15 masks over 199,211 words
    /// (libgcrypt + AVX-512 add, /tmp/s14-22/cb/m.c, session 14): 0.79 ms at 8 KiB, 0.82 at
    /// 16 KiB, 0.97 at 64 KiB; the SSE2 add 0.99–1.05 at any size.
    public static let chunkBytes = 1 << 13

    /// The ChaCha20 keystream (RFC 8439: key = seed, 12 zero nonce bytes, block counter 0) that
    /// `KeystreamGenerator` draws Shamir's coefficients from: secret, never on the wire, so it
    /// did not move with the mask PRG.
    static func chaCha20Keystream(seed: [UInt8], byteCount: Int) throws(SecAggError) -> [UInt8] {
        guard seed.count == 32 else { throw .wrongSecretLength(expected: 32, got: seed.count) }
        do {
            let nonce = try Insecure.ChaCha20CTR.Nonce(data: [UInt8](repeating: 0, count: 12))
            return [UInt8](try Insecure.ChaCha20CTR.encrypt(Data(count: byteCount), using: SymmetricKey(data: seed), nonce: nonce))
        } catch {
            throw .invalidParameters("ChaCha20 keystream failed: \(error)")
        }
    }

    /// `count` elements of Z_{2^modulusBits} from `seed`: PRG(seed) added to zeros, through the
    /// same chunked path the masks take, so its chunks are the one stream `keystream` returns.
    public static func expand(seed: [UInt8], count: Int, modulusBits: Int) throws(SecAggError) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: count)
        try apply(seed: seed, to: &out, sign: .add, modulusBits: modulusBits)
        return out
    }

    /// vector ± PRG(seed), in place, mod 2^modulusBits: each keystream chunk is added (or
    /// subtracted) as it is produced.
    public static func apply(seed: [UInt8], to vector: inout [UInt32], sign: MaskSign, modulusBits: Int) throws(SecAggError) {
        try apply([Mask(seed: seed, sign: sign)], to: &vector, modulusBits: modulusBits)
    }

    /// vector ± PRG(seed) for every mask, in place, mod 2^modulusBits. Slice-major: each 8 KiB
    /// slice of the vector takes every mask's keystream for that slice before the next slice, so
    /// the slice stays in cache, where one mask after the other would stream the whole vector
    /// from memory once per mask (1 + k times for a client, once per survivor for the server).
    /// Ring addition commutes, so the result is that of applying the masks one by one.
    ///
    /// Slices are independent, so with `threads` > 1 they are shared out (slice i to thread
    /// i mod threads): a client process whose hosted clients mask after the other process's
    /// have finished, and the server removing every self mask at the end of a round, would
    /// otherwise leave a core idle. The result does not depend on the thread count.
    public static func apply(_ masks: [Mask], to vector: inout [UInt32], modulusBits: Int,
                             threads: Int = availableCores) throws(SecAggError) {
        for m in masks where m.seed.count != 32 { throw .wrongSecretLength(expected: 32, got: m.seed.count) }
        let count = vector.count
        var failure: SecAggError?
        vector.withUnsafeMutableBufferPointer { v in
            guard let base = v.baseAddress else { return }
            do throws(SecAggError) { try apply(masks, to: base, count: count, modulusBits: modulusBits, threads: threads) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The same over `count` words at `words` (a stage-3 reply body's words, `MaskedInputBody`).
    public static func apply(_ masks: [Mask], to words: UnsafeMutablePointer<UInt32>, count: Int, modulusBits: Int,
                             threads: Int = availableCores) throws(SecAggError) {
        for m in masks where m.seed.count != 32 { throw .wrongSecretLength(expected: 32, got: m.seed.count) }
        guard count > 0, !masks.isEmpty else { return }
        let ringMask = RingArithmetic.mask(bits: modulusBits)
        let chunkWords = chunkBytes / 4
        let slices = (count + chunkWords - 1) / chunkWords
        let workers = max(1, min(threads, slices))
        // One error slot per worker (each writes only its own).
        var errors = [SecAggError?](repeating: nil, count: workers)
        errors.withUnsafeMutableBufferPointer { e in
            let shared = Shared(vector: words, errors: e.baseAddress!)
            let work: @Sendable (Int) -> Void = { w in
                // Per worker: one keystream per mask (its expanded key) and one chunk of zeros
                // plus one of keystream, reused for every slice and mask, so the chunk stays
                // in cache between its write and its addition.
                let bytes = 4 * min(count, chunkWords)
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: 2 * bytes, alignment: 64)
                defer { buffer.deallocate() }
                buffer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
                let zeros = UnsafeRawPointer(buffer), chunk = buffer + bytes
                do throws(SecAggError) {
                    var streams: [AESCounterKeystream] = []
                    streams.reserveCapacity(masks.count)
                    for m in masks { streams.append(try AESCounterKeystream(key: m.seed[0..<16])) }
                    for slice in stride(from: w, to: slices, by: workers) {
                        let first = slice * chunkWords, n = min(chunkWords, count - first)
                        for (m, stream) in zip(masks, streams) {
                            try stream.write(into: chunk, byteCount: 4 * n, firstBlock: UInt64(slice * (chunkBytes / 16)), zeros: zeros)
                            add(chunk, into: shared.vector + first, count: n, sign: m.sign, ringMask: ringMask)
                        }
                    }
                } catch {
                    shared.errors[w] = error
                }
            }
            if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        }
        if let error = errors.lazy.compactMap({ $0 }).first { throw error }
    }

    /// The vector and error slots the workers share. Safe to send: each worker writes only its
    /// own slices of the vector and its own error slot, and both outlive `concurrentPerform`.
    private struct Shared: @unchecked Sendable {
        let vector: UnsafeMutablePointer<UInt32>
        let errors: UnsafeMutablePointer<SecAggError?>
    }

    /// Online processors: how many threads `apply` spreads a vector's slices over.
    public static let availableCores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// out[j] ± keystream word j, mod 2^b, for j < count, with the widest kernel the CPU runs
    /// (CVectorKernels/secagg.h; `vectorLevel` as `VectorKernels.level`, so tests can pin each).
    /// Its own function over non-optional pointers: inlined into the closure over swift-crypto's
    /// `Data`, the loop kept a nil check of the buffer per word and stayed scalar.
    @inline(never)
    static func add(_ words: UnsafeRawPointer, into out: UnsafeMutablePointer<UInt32>, count: Int, sign: MaskSign, ringMask: UInt32,
                    vectorLevel: Int = VectorKernels.level) {
        #if arch(x86_64) && _endian(little)
        switch vectorLevel {
        case 2: return aviary_ring_add_u32_avx512(out, words, count, sign == .subtract ? 1 : 0, ringMask)
        case 1: return aviary_ring_add_u32_avx2(out, words, count, sign == .subtract ? 1 : 0, ringMask)
        default: break
        }
        #endif
        switch sign {
        case .add:
            for j in 0..<count { out[j] = (out[j] &+ UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) & ringMask }
        case .subtract:
            for j in 0..<count { out[j] = (out[j] &- UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) & ringMask }
        }
    }

    /// One mask of `apply(_:to:modulusBits:)`: PRG(seed) added or subtracted.
    public struct Mask: Sendable {
        public var seed: [UInt8]
        public var sign: MaskSign
        public init(seed: [UInt8], sign: MaskSign) { self.seed = seed; self.sign = sign }
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

/// A cryptographically strong `RandomNumberGenerator` over one 32-byte seed: a ChaCha20
/// keystream, read 64 bits at a time. Shamir's coefficients come from it, so
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
        let bytes = (try? MaskExpansion.chaCha20Keystream(seed: Array(derived), byteCount: 8 * Self.chunkWords)) ?? []
        precondition(bytes.count == 8 * Self.chunkWords, "ChaCha20 keystream failed on a 32-byte key")
        buffer = bytes.withUnsafeBytes { raw in
            (0..<Self.chunkWords).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
        }
        position = 0
    }
}
