import Crypto
import _CryptoExtras
import Foundation
import AviarySecAgg

/// The mask PRG's candidates from swift-crypto (`aviary bench secagg --prg`), and the libgcrypt
/// AES-128-CTR expansion Aviary masks with (`MaskExpansion.apply`): each expands one
/// 32-byte seed into P + 1 words and adds them into a vector in place, chunk by chunk, as a
/// client's masking does. ChaCha20 is `Insecure.ChaCha20CTR`; AES-CTR is `AES._CTR`
/// (_CryptoExtras, BoringSSL's AES_ctr128_encrypt); AES-GCM seals zeros with `AES.GCM`, whose
/// ciphertext is the AES-CTR keystream from counter block nonce ‖ 2 (the tag is dropped).
public enum SecAggPRGBench {
    enum Candidate: CaseIterable {
        case chacha20, aes128CTR, aes256CTR, aes128GCM, aes256GCM
        var name: String {
            switch self {
            case .chacha20: "ChaCha20 (Insecure.ChaCha20CTR)"
            case .aes128CTR: "AES-128-CTR (AES._CTR)"
            case .aes256CTR: "AES-256-CTR (AES._CTR)"
            case .aes128GCM: "AES-128-GCM seal of zeros"
            case .aes256GCM: "AES-256-GCM seal of zeros"
            }
        }
    }

    /// Adds the keystream of `candidate` under `seed` into `vector`, `chunkBytes` at a time.
    static func apply(_ candidate: Candidate, seed: [UInt8], chunkBytes: Int, to vector: inout [UInt32]) throws {
        let count = vector.count, chunkWords = chunkBytes / 4
        let zeros = [UInt8](repeating: 0, count: 4 * min(count, chunkWords))
        let key: SymmetricKey
        switch candidate {
        case .aes128CTR, .aes128GCM: key = SymmetricKey(data: seed[0..<16])
        default: key = SymmetricKey(data: seed)
        }
        var first = 0, chunk = 0
        while first < count {
            let n = min(chunkWords, count - first)
            var nonce = [UInt8](repeating: 0, count: 12)
            withUnsafeBytes(of: UInt32(chunk).littleEndian) { for i in 0..<4 { nonce[i] = $0[i] } }
            let stream: Data
            switch candidate {
            case .chacha20:
                stream = try Insecure.ChaCha20CTR.encrypt(zeros[0..<(4 * n)], using: key,
                                                          counter: Insecure.ChaCha20CTR.Counter(offset: UInt32(first / 16)),
                                                          nonce: Insecure.ChaCha20CTR.Nonce(data: [UInt8](repeating: 0, count: 12)))
            case .aes128CTR, .aes256CTR:
                stream = try AES._CTR.encrypt(zeros[0..<(4 * n)], using: key, nonce: AES._CTR.Nonce(nonceBytes: nonce))
            case .aes128GCM, .aes256GCM:
                stream = try AES.GCM.seal(zeros[0..<(4 * n)], using: key, nonce: AES.GCM.Nonce(data: nonce)).ciphertext
            }
            vector.withUnsafeMutableBufferPointer { v in
                stream.withUnsafeBytes { words in
                    for j in 0..<n { v[first + j] &+= UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)) }
                }
            }
            first += n; chunk += 1
        }
    }

    public static func run(parameters p: Int = 199_210, repetitions: Int = 15) -> String {
        let seed = (0..<32).map { UInt8($0 &* 7 &+ 1) }
        var vector = [UInt32](repeating: 0, count: p + 1)
        var lines = ["mask PRG candidates: expand one 32-byte seed to P + 1 = \(p + 1) words (\(4 * (p + 1)) bytes) and add them in place, median of \(repetitions) runs"]
        for chunkKiB in [16, 64, 256, 1024] {
            for c in Candidate.allCases {
                var failed = false
                let t = MergeBench.medianTime(repetitions) {
                    do { try apply(c, seed: seed, chunkBytes: chunkKiB << 10, to: &vector) } catch { failed = true }
                }
                lines.append(String(format: "  %-34@ chunk %5d KiB  %7.3f ms  %5.2f GB/s%@", c.name as NSString, chunkKiB, t * 1e3,
                                    Double(4 * (p + 1)) / t / 1e9, failed ? " FAILED" : ""))
            }
        }
        // What Aviary masks with: libgcrypt's AES-128-CTR through MaskExpansion (its slices,
        // one thread here so the line compares with the single-threaded candidates above).
        var failed = false
        let used = MergeBench.medianTime(repetitions) {
            do { try MaskExpansion.apply([MaskExpansion.Mask(seed: seed, sign: .add)], to: &vector, modulusBits: 32, threads: 1) } catch { failed = true }
        }
        lines.append(String(format: "  %-34@ chunk %5d KiB  %7.3f ms  %5.2f GB/s%@", "AES-128-CTR (libgcrypt, MaskExpansion)" as NSString, MaskExpansion.chunkBytes >> 10,
                            used * 1e3, Double(4 * (p + 1)) / used / 1e9, failed ? " FAILED" : ""))
        // The parts that are not the cipher: the add loop over a ready keystream, and the
        // zero-filled output buffer swift-crypto allocates per call.
        let ready = [UInt8](repeating: 5, count: 4 * (p + 1))
        let add = MergeBench.medianTime(repetitions) {
            vector.withUnsafeMutableBufferPointer { v in
                ready.withUnsafeBytes { words in
                    for j in 0..<v.count { v[j] &+= UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)) }
                }
            }
        }
        var sink = 0
        let alloc = MergeBench.medianTime(repetitions) {
            for _ in 0..<((4 * (p + 1)) >> 16) { let d = Data(repeating: 0, count: 1 << 16); sink &+= d.count }
        }
        lines.append(String(format: "  add loop alone (ready keystream): %7.3f ms; zero-filled 64 KiB Data x %d: %7.3f ms", add * 1e3,
                            (4 * (p + 1)) >> 16, alloc * 1e3))
        return lines.joined(separator: "\n")
    }
}
