#if canImport(Glibc)
import Glibc
#endif

/// Allocation of a merge's output vector.
///
/// A fresh 100 MB array is demand-paged: the first write to each 4 KiB page faults, and on these
/// VMs that cost ~45 ms per 100 MB, as much as the merge itself with 10 inputs. For outputs
/// large enough that malloc maps them on their own (≥ 32 MiB), Linux is asked for transparent
/// huge pages (one fault per 2 MiB; measured 12 ms instead of 47 ms for 100 MB). Only a hint:
/// contents and results are unaffected, and elsewhere it does nothing.
enum MergedVector {
    /// Outputs from this size on get the huge-page hint (glibc's largest mmap threshold).
    static let hugePageThreshold = 32 << 20

    /// A `count`-element array whose every element `fill` initialises through the pointer.
    static func make(count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            if let base = buffer.baseAddress, count > 0 {
                adviseHugePages(base, bytes: count * MemoryLayout<Float>.stride)
                fill(base)
            }
            initialised = count
        }
    }

    private static func adviseHugePages(_ base: UnsafeMutablePointer<Float>, bytes: Int) {
        #if os(Linux)
        guard bytes >= hugePageThreshold else { return }
        let huge = 2 << 20
        let first = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: base) + bytes) & ~(huge - 1)
        // The 2 MiB-aligned interior only: madvise needs page alignment, and a failure is harmless.
        if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, Int32(MADV_HUGEPAGE)) }
        #endif
    }
}
