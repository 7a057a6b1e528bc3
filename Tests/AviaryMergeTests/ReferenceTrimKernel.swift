/// The scalar quickselect trimmed-mean kernel the SIMD `CoordinateTrimKernel` replaced, kept as
/// its reference: same survivors and hits, and the same values wherever the Double sums are exact.
///
/// Original documentation: coordinate-wise trimmed mean over n vectors; the median is the case trim = ⌊(n − 1)/2⌋.
///
/// For each coordinate the n values are ranked, `trim` are dropped at each end and the rest are
/// averaged (in Double, then rounded to Float). Blocked: a block of coordinates is gathered
/// from all inputs into a small scratch of sort keys (an L2-sized n × block tile), then each
/// coordinate's n keys are partially ordered with a selection, not a full sort.
///
/// A key packs the value's bits, mapped so unsigned order is float order, above the input's
/// position. Keys are unique, so ties between equal values break by input position
/// (client-index order) and the result is deterministic; the position also tells which client
/// survived, for the reported weights.
enum ReferenceTrimKernel {
    /// Runs the kernel; `hits[i]` counts the coordinates where input i was among the survivors.
    static func run(inputs: [UnsafePointer<Float>], scales: [Float], count: Int, trim: Int,
                    into out: UnsafeMutablePointer<Float>, hits: inout [Int]) {
        let n = inputs.count
        precondition(n > 0 && n == scales.count && 2 * trim < n && n <= 1 << 31)
        hits = [Int](repeating: 0, count: n)
        let kept = n - 2 * trim
        // ~256 KiB of keys per block whatever n is.
        let block = max(64, (256 * 1024) / (8 * n))
        let scaled = scales.contains { $0 != 1 }
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: block * n)
        defer { scratch.deallocate() }
        hits.withUnsafeMutableBufferPointer { hitCounts in
            var start = 0
            while start < count {
                let len = min(block, count - start)
                for i in 0..<n {
                    let x = inputs[i] + start
                    let tag = UInt64(i), s = scales[i]
                    var dst = scratch + i
                    if scaled {
                        for j in 0..<len { dst.pointee = key(s * x[j], tag); dst += n }
                    } else {
                        for j in 0..<len { dst.pointee = key(x[j], tag); dst += n }
                    }
                }
                for j in 0..<len {
                    let keys = scratch + j * n
                    if trim > 0 {
                        ReferenceSelection.select(keys, 0, n, rank: trim)
                        if kept > 1 { ReferenceSelection.select(keys, trim + 1, n, rank: n - trim - 1) }
                    }
                    var sum = 0.0
                    for p in trim..<(n - trim) {
                        let k = keys[p]
                        sum += Double(value(k))
                        hitCounts[Int(k & 0xFFFF_FFFF)] += 1
                    }
                    out[start + j] = Float(sum / Double(kept))
                }
                start += len
            }
        }
    }

    @inline(__always)
    static func key(_ v: Float, _ tag: UInt64) -> UInt64 {
        let b = v.bitPattern
        let ordered = (b & 0x8000_0000) != 0 ? ~b : b | 0x8000_0000
        return UInt64(ordered) << 32 | tag
    }

    @inline(__always)
    static func value(_ k: UInt64) -> Float {
        let ordered = UInt32(truncatingIfNeeded: k >> 32)
        let b = (ordered & 0x8000_0000) != 0 ? ordered & 0x7FFF_FFFF : ~ordered
        return Float(bitPattern: b)
    }
}

/// In-place selection on unique UInt64 keys (deterministic: no random pivots).
enum ReferenceSelection {
    /// Rearranges keys[lo..<hi] so keys[rank] holds the key of that rank, smaller keys before
    /// it and larger after it (rank is an absolute position in lo..<hi).
    static func select(_ keys: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int, rank: Int) {
        var lo = lo, hi = hi
        while hi - lo > 16 {
            // Median-of-three pivot, moved to hi − 1; Lomuto partition on unique keys.
            let mid = lo + (hi - lo) / 2
            if keys[mid] < keys[lo] { swapAt(keys, mid, lo) }
            if keys[hi - 1] < keys[lo] { swapAt(keys, hi - 1, lo) }
            if keys[mid] < keys[hi - 1] { swapAt(keys, mid, hi - 1) }
            let pivot = keys[hi - 1]
            // Branch-free: ranks are data-dependent coin flips, so a branch would mispredict half
            // the time; selects compile to conditional moves.
            var store = lo
            for p in lo..<(hi - 1) {
                let k = keys[p], s = keys[store]
                let less = k < pivot
                keys[p] = less ? s : k
                keys[store] = less ? k : s
                store &+= less ? 1 : 0
            }
            swapAt(keys, store, hi - 1)
            if store == rank { return }
            if rank < store { hi = store } else { lo = store + 1 }
        }
        insertionSort(keys, lo, hi)
    }

    @inline(__always)
    static func swapAt(_ keys: UnsafeMutablePointer<UInt64>, _ a: Int, _ b: Int) {
        let t = keys[a]; keys[a] = keys[b]; keys[b] = t
    }

    static func insertionSort(_ keys: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) {
        guard hi - lo > 1 else { return }
        for i in (lo + 1)..<hi {
            let k = keys[i]
            var p = i
            while p > lo && keys[p - 1] > k { keys[p] = keys[p - 1]; p -= 1 }
            keys[p] = k
        }
    }
}
