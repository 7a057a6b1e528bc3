/// Top-k sparsification over the whole delta vector, with error feedback (Stich et al. 2018;
/// Lin et al.'s DGC): what a client does not send this round is added to its next delta.
///
/// Order: larger |x| first, ties broken by the lower index, so the kept set is a pure function
/// of the values (never of the algorithm or the thread). Selection is an exact radix select on
/// the bit patterns of |x| (monotone for non-negative floats): two 16-bit histogram passes find
/// the k-th largest pattern, one pass collects the indices in increasing order. O(n), no sort.
public enum TopKSparsifier {
    /// The k largest |x| of `v` (ties: lower index first), as increasing indices and their values.
    /// `v` must be finite.
    public static func select(_ v: [Float], k: Int) -> (indices: [UInt32], values: [Float]) {
        let n = v.count
        let k = min(max(k, 0), n)
        guard k > 0 else { return ([], []) }
        precondition(n <= Int(UInt32.max), "top-k indices are 32-bit")
        return v.withUnsafeBufferPointer { x in
            let magnitude = { (i: Int) -> UInt32 in x[i].bitPattern & 0x7FFF_FFFF }
            // Pass 1: the high 16 bits of the k-th largest magnitude.
            var high = [Int](repeating: 0, count: 1 << 16)
            for i in 0..<n { high[Int(magnitude(i) >> 16)] += 1 }
            var above = 0  // elements in buckets above the one holding the k-th largest
            var bucket = (1 << 16) - 1
            while above + high[bucket] < k { above += high[bucket]; bucket -= 1 }
            // Pass 2: the low 16 bits within that bucket.
            var low = [Int](repeating: 0, count: 1 << 16)
            for i in 0..<n where Int(magnitude(i) >> 16) == bucket { low[Int(magnitude(i) & 0xFFFF)] += 1 }
            var lowBucket = (1 << 16) - 1
            while above + low[lowBucket] < k { above += low[lowBucket]; lowBucket -= 1 }
            let threshold = UInt32(bucket) << 16 | UInt32(lowBucket)
            // `above` elements are strictly larger than the threshold; the rest come from the
            // ties, lowest index first.
            var ties = k - above
            var indices: [UInt32] = []
            var values: [Float] = []
            indices.reserveCapacity(k)
            values.reserveCapacity(k)
            for i in 0..<n {
                let m = magnitude(i)
                if m > threshold || (m == threshold && ties > 0) {
                    if m == threshold { ties -= 1 }
                    indices.append(UInt32(i))
                    values.append(x[i])
                }
            }
            return (indices, values)
        }
    }

    /// One round of top-k with error feedback for one client: `accumulated = delta + residual`
    /// (the residual is zero when absent), the k largest entries of it are sent, and the new
    /// residual is `accumulated` with the sent entries zeroed. So, exactly in f32,
    /// `sent + newResidual == delta ⊕ oldResidual` (⊕: one rounded f32 addition per entry).
    public static func step(delta: [Float], residual: inout [Float]?, k: Int) -> DeltaPayload {
        var accumulated = delta
        if let r = residual {
            precondition(r.count == delta.count, "residual length \(r.count) ≠ delta \(delta.count)")
            for i in 0..<accumulated.count { accumulated[i] += r[i] }
        }
        let (indices, values) = select(accumulated, k: k)
        for i in indices { accumulated[Int(i)] = 0 }
        residual = accumulated
        return .topk(length: delta.count, indices: indices, values: values)
    }
}
