import Testing
import CZlib
@testable import AviaryMath

/// `CRC32` is ISA-L's carry-less-multiply CRC-32; every file and frame Aviary wrote with zlib's
/// `crc32` must keep its checksum, so the two must agree value for value, and chain alike.
@Suite struct CRC32Tests {
    static func zlib(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: crc32(UInt(initial), $0.baseAddress, uInt($0.count))) }
    }

    @Test func knownVectorAndEmptyInput() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(UnsafeRawBufferPointer(start: nil, count: 0), initial: 0xDEAD_BEEF) == 0xDEAD_BEEF)
    }

    @Test func equalsZlibAtEveryLengthAndOffsetAndChainsTheSameWay() {
        var rng = RandomStream(seed: 0x1234)
        let data = (0..<(1 << 20) + 77).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Lengths around ISA-L's block sizes and both sides of each; unaligned starts.
        for length in [1, 2, 3, 7, 8, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 255, 256, 1000, 4096, 65_537, 1 << 20] {
            for start in [0, 1, 3, 13] {
                let slice = Array(data[start..<(start + length)])
                #expect(CRC32.checksum(slice) == Self.zlib(slice), "length \(length), start \(start)")
            }
        }
        let head = Array(data[0..<12_345]), tail = Array(data[12_345...])
        let chained = tail.withUnsafeBytes { CRC32.checksum($0, initial: CRC32.checksum(head)) }
        #expect(chained == Self.zlib(data))
        #expect(chained == Self.zlib(tail, initial: Self.zlib(head)))
    }
}
