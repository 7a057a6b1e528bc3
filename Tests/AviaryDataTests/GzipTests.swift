import AviaryMath
import Testing

@Suite struct GzipTests {
    @Test func roundTripsAndDetectsCorruption() throws {
        var rng = RandomStream(seed: 3, purpose: .other, index: 0)
        let data = (0..<100_000).map { _ in UInt8(rng.nextInt(below: 16)) }
        let gz = try Gzip.compress(data)
        #expect(Gzip.isGzip(gz) && !Gzip.isGzip(data))
        #expect(try Gzip.decompress(gz) == data)
        #expect(try Gzip.decompress(Gzip.compress([])) == [])
        var corrupt = gz
        corrupt[gz.count / 2] ^= 0xFF
        corrupt[gz.count / 2 + 1] ^= 0xFF
        #expect(throws: GzipError.self) { try Gzip.decompress(corrupt) }
        #expect(throws: GzipError.self) { try Gzip.decompress(Array(gz.prefix(gz.count - 10))) }
    }
}
