import CGcrypt

/// The mask PRG's AES-128-CTR keystream written into a caller's buffer, from libgcrypt.
///
/// Same bytes as swift-crypto's `AES._CTR` (`MaskExpansion.keystream`, the reference the tests
/// hold it to), but without its fresh zero-filled `Data` and key schedule per call, and with
/// libgcrypt's VAES CTR code where the CPU has VAES, where BoringSSL runs an AES-NI loop. A
/// client masks with 1 + k keystreams of the whole vector per round, so this is most of its
/// masking time.
///
/// One instance per key and thread: the handle holds the expanded key and the counter.
final class AESCounterKeystream {
    private var handle: gcry_cipher_hd_t?

    /// libgcrypt must be initialised once per process before any other call; a global's
    /// initialiser runs once, thread-safely.
    private static let library: String = String(cString: aviary_gcrypt_initialise())

    /// - Parameter key: the seed's first 16 bytes.
    init(key: ArraySlice<UInt8>) throws(SecAggError) {
        precondition(key.count == 16, "AES-128 takes a 16-byte key")
        _ = Self.library
        var opened: gcry_cipher_hd_t?
        let err = key.withUnsafeBytes { aviary_aes128_ctr_open(&opened, $0.baseAddress) }
        guard err == 0, let opened else { throw .invalidParameters("AES-128-CTR (libgcrypt \(Self.library)): \(Self.describe(err))") }
        handle = opened
    }

    deinit { gcry_cipher_close(handle) }

    /// `byteCount` keystream bytes into `out`, from counter block `firstBlock` (a 128-bit
    /// big-endian integer whose high 64 bits are 0). `zeros` holds at least `byteCount` zero
    /// bytes; CTR "encrypts" them, so only the keystream lands in `out`.
    func write(into out: UnsafeMutableRawPointer, byteCount: Int, firstBlock: UInt64, zeros: UnsafeRawPointer) throws(SecAggError) {
        var counter: (UInt64, UInt64) = (0, firstBlock.bigEndian)
        let err = withUnsafeBytes(of: &counter) { c in
            aviary_aes_ctr_keystream(handle, c.baseAddress!.assumingMemoryBound(to: UInt8.self), zeros, out, byteCount)
        }
        guard err == 0 else { throw .invalidParameters("AES-128-CTR (libgcrypt \(Self.library)): \(Self.describe(err))") }
    }

    private static func describe(_ err: gcry_error_t) -> String { String(cString: gcry_strerror(err)) }
}
