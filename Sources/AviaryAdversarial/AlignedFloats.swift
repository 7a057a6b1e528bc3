/// 64-byte aligned, zeroed floats (at least one, so an empty buffer is still a valid pointer).
/// Owners deallocate in their `deinit`; buffers are sized once so attack loops never allocate.
func allocateAlignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    let n = max(1, count)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
    return raw.initializeMemory(as: Float.self, repeating: 0, count: n)
}
