/// Index of the first NaN or ±infinity in `v`, or nil when every element is finite.
/// The server runs this on every UPDATE delta, so it scans in blocks with a branch-free,
/// vectorisable test on the exponent bits and only looks closer inside a block that failed.
public func validateFinite(_ v: [Float]) -> Int? {
    v.withUnsafeBufferPointer { validateFinite($0) }
}

/// Buffer form of `validateFinite(_:)`.
public func validateFinite(_ v: UnsafeBufferPointer<Float>) -> Int? {
    guard let base = v.baseAddress, v.count > 0 else { return nil }
    let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
    let exponentMask: UInt32 = 0x7F80_0000  // all-ones exponent ⇔ NaN or infinity
    let block = 1024
    var start = 0
    while start < v.count {
        let end = min(start + block, v.count)
        var bad: UInt32 = 0
        for i in start..<end {
            bad |= (bits[i] & exponentMask) == exponentMask ? 1 : 0
        }
        if bad != 0 {
            for i in start..<end where (bits[i] & exponentMask) == exponentMask { return i }
        }
        start = end
    }
    return nil
}
