import CISAL

/// CRC-32 (IEEE, zlib's and gzip's) over raw bytes: guards wire frames, checkpoints and run-state
/// files. Computed by ISA-L's `crc32_gzip_refl`, which gives zlib's `crc32` values (and chains
/// the same way through `initial`) at ~20× its speed here (carry-less multiply; zlib 1.2.13's
/// table code ran at ~2.4 GB/s and was a quarter of a buffered server's CPU).
public enum CRC32 {
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        return crc32_gzip_refl(initial, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Eight lowercase hex digits, as run files record a CRC-32.
    public static func hex(_ crc: UInt32) -> String {
        let s = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
