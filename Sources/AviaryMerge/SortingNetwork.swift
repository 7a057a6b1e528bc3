/// A comparator network that puts the values at chosen ranks in place, for n inputs.
///
/// Batcher's merge exchange (Knuth, TAOCP vol. 3, §5.2.2, Algorithm M) sorts any n with about
/// n·log²n/4 comparators and needs no padding to a power of two. Comparators that cannot
/// influence the wanted output positions are dropped (walking the network backwards), so a
/// median needs fewer than a full sort. Applied to SIMD vectors, each lane is an independent
/// network: min/max only, no branches, no data-dependent memory access.
struct SortingNetwork: Sendable {
    /// Number of inputs.
    let count: Int
    /// Comparator pairs flattened as (low, high, low, high, …), low < high, in execution order.
    let pairs: [Int32]

    /// The pruned network for `count` inputs that leaves the value of rank r at position r for
    /// every r in `ranks` (all ranks when nil: a full sort).
    init(count: Int, ranks: [Int]? = nil) {
        precondition(count >= 0 && count <= Int(Int32.max))
        self.count = count
        let full = Self.mergeExchange(count)
        guard let ranks else {
            pairs = full.flatMap { [Int32($0.0), Int32($0.1)] }
            return
        }
        precondition(ranks.allSatisfy { (0..<count).contains($0) })
        var needed = [Bool](repeating: false, count: count)
        for r in ranks { needed[r] = true }
        var kept: [(Int, Int)] = []
        for (a, b) in full.reversed() where needed[a] || needed[b] {
            kept.append((a, b))
            needed[a] = true
            needed[b] = true
        }
        pairs = kept.reversed().flatMap { [Int32($0.0), Int32($0.1)] }
    }

    /// Number of comparators.
    var size: Int { pairs.count / 2 }

    /// Applies the network lane-wise to `values[0..<count]`. Equal values (including -0 and +0)
    /// may come out in either order.
    @inline(__always)
    func apply(_ values: UnsafeMutablePointer<SIMD16<Float>>) {
        pairs.withUnsafeBufferPointer { p in
            var c = 0
            while c < p.count {
                let a = Int(p[c]), b = Int(p[c + 1])
                let x = values[a], y = values[b]
                // `y < x ? y : x` is the pattern LLVM lowers to minps/maxps even at the SSE2
                // baseline; the generic pointwiseMin/Max are not inlined and compile to compares
                // and blends.
                let swap = y .< x
                values[a] = x.replacing(with: y, where: swap)
                values[b] = y.replacing(with: x, where: swap)
                c += 2
            }
        }
    }

    /// Algorithm M's comparators (i, i + d) for n inputs, in an order that sorts.
    static func mergeExchange(_ n: Int) -> [(Int, Int)] {
        guard n >= 2 else { return [] }
        var t = 0
        while (1 << t) < n { t += 1 }
        var result: [(Int, Int)] = []
        var p = 1 << (t - 1)
        while p > 0 {
            var q = 1 << (t - 1), r = 0, d = p
            while true {
                for i in 0..<(n - d) where i & p == r { result.append((i, i + d)) }
                if q == p { break }
                d = q - p
                q >>= 1
                r = p
            }
            p >>= 1
        }
        return result
    }
}
