/// Index of the first NaN or ±infinity in `v`, or nil when every element is finite.
/// The server runs this on every UPDATE delta, so it tests 16 floats at a time on their
/// exponent bits (all ones ⇔ NaN or infinity) and only goes element by element in the
/// 16-float chunk that failed. About 13× faster than the plain loop (bench: TransportBench).
public func validateFinite(_ v: [Float]) -> Int? {
    v.withUnsafeBufferPointer { validateFinite($0) }
}

/// Buffer form of `validateFinite(_:)`.
public func validateFinite(_ v: UnsafeBufferPointer<Float>) -> Int? {
    guard let base = v.baseAddress, v.count > 0 else { return nil }
    let raw = UnsafeRawPointer(base)
    let exponentMask: UInt32 = 0x7F80_0000
    let masks = SIMD16<UInt32>(repeating: exponentMask)
    let n = v.count
    var i = 0
    while i + 16 <= n {
        let chunk = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
        if any((chunk & masks) .== masks) { break }
        i += 16
    }
    let bits = raw.assumingMemoryBound(to: UInt32.self)
    while i < n {
        if (bits[i] & exponentMask) == exponentMask { return i }
        i += 1
    }
    return nil
}
