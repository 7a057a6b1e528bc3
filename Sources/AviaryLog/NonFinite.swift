/// Finds NaN and ±infinity in Float vectors, 16 values at a time: a value is non-finite exactly
/// when its exponent bits are all ones, so a block is clean when no lane of
/// `bits & 0x7F800000` equals `0x7F800000`. Used on every run-state vector written or read.
public enum NonFinite {
    /// The index of the first NaN or infinity in `values`, or nil when all are finite.
    public static func firstIndex(in values: [Float]) -> Int? {
        values.withUnsafeBufferPointer { firstIndex(in: $0) }
    }

    public static func firstIndex(in values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress, values.count > 0 else { return nil }
        let raw = UnsafeRawPointer(base)
        let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
        let lanes = 16
        let blocks = values.count / lanes
        var block = 0
        while block < blocks {
            // 64 values per check of the accumulated mask: fewer branches than one per vector.
            let end = min(blocks, block + 4)
            var hit = SIMDMask<SIMD16<Int32>>(repeating: false)
            for b in block..<end {
                let v = raw.loadUnaligned(fromByteOffset: 64 * b, as: SIMD16<UInt32>.self)
                hit .|= (v & exponent) .== exponent
            }
            if any(hit) { return scalarFirst(values, from: block * lanes, to: end * lanes) }
            block = end
        }
        return scalarFirst(values, from: blocks * lanes, to: values.count)
    }

    private static func scalarFirst(_ values: UnsafeBufferPointer<Float>, from: Int, to: Int) -> Int? {
        for i in from..<to where !values[i].isFinite { return i }
        return nil
    }
}
