import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Coordinate-wise trimmed mean over n vectors; the median is the case trim = ⌊(n − 1)/2⌋.
///
/// For each coordinate the n values are ranked, `trim` are dropped at each end and the survivors
/// are summed in Double in input (client-index) order starting from +0, then divided by their
/// count and rounded to Float. Ranks are those of (value, input position): ties break by
/// position, so the survivors, the result and the reported hits are deterministic; -0 ranks
/// below +0.
///
/// Vectorised across coordinates: a block of coordinates is gathered from all inputs into an
/// L2-sized tile of order-preserving Int32 keys, 16 coordinates per SIMD vector (one lane per
/// coordinate). Per 16 coordinates a pruned `SortingNetwork` over the n vectors finds the keys
/// of rank trim and n − 1 − trim with min/max only; a second pass ranks every input against
/// those two thresholds (counting equal keys in input order for ties) to decide who survived.
/// At the SSE2 baseline the network is bound by its stores (two per comparator per 4 lanes);
/// built for AVX2 (`-target-cpu haswell` or later) it runs ~1.7× faster with the same bits.
enum CoordinateTrimKernel {
    typealias Keys = SIMD16<Int32>
    static let lanes = Keys.scalarCount
    /// Bytes of keys gathered per block, whatever n is: half of L2.
    static let tileBytes = 256 * 1024
    /// Below this many coordinates one thread does it all.
    static let parallelThreshold = 1 << 16

    /// The online cores: the kernel is compute-bound, unlike the memory-bound weighted sums.
    static var availableCores: Int {
        #if canImport(Glibc)
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }

    /// Runs the kernel; `hits[i]` counts the coordinates where input i was among the survivors.
    /// With `threads` > 1 the coordinates are split into contiguous chunks, one per thread; every
    /// coordinate is computed the same way, so the result does not depend on the thread count.
    static func run(inputs: [UnsafePointer<Float>], scales: [Float], count: Int, trim: Int,
                    into out: UnsafeMutablePointer<Float>, hits: inout [Int], threads: Int = availableCores) {
        let n = inputs.count
        precondition(n > 0 && n == scales.count && 2 * trim < n && n <= Int(Int32.max) && threads >= 1)
        hits = [Int](repeating: 0, count: n)
        guard count > 0 else { return }
        let network = trim > 0 ? SortingNetwork(count: n, ranks: [trim, n - 1 - trim]) : SortingNetwork(count: 0)
        let chunks = count >= parallelThreshold ? min(threads, 16) : 1
        let perChunk = ((count + chunks - 1) / chunks + lanes - 1) / lanes * lanes
        let chunkHits = UnsafeMutablePointer<Int>.allocate(capacity: chunks * n)
        chunkHits.initialize(repeating: 0, count: chunks * n)
        defer { chunkHits.deallocate() }
        if chunks == 1 {
            runRange(inputs, scales, 0..<count, trim: trim, network: network, into: out, hits: chunkHits)
        } else {
            let shared = Shared(inputs: inputs, out: out, hits: chunkHits)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let range = min(count, c * perChunk)..<min(count, (c + 1) * perChunk)
                runRange(shared.inputs, scales, range, trim: trim, network: network, into: shared.out,
                         hits: shared.hits + c * n)
            }
        }
        for c in 0..<chunks {
            for i in 0..<n { hits[i] += chunkHits[c * n + i] }
        }
    }

    /// The pointers the threads share. Safe to send: the inputs are only read, and each thread
    /// writes only its own coordinates of `out` and its own n counters of `hits`, all of which
    /// outlive `concurrentPerform`.
    private struct Shared: @unchecked Sendable {
        let inputs: [UnsafePointer<Float>]
        let out: UnsafeMutablePointer<Float>
        let hits: UnsafeMutablePointer<Int>
    }

    /// One thread's share: coordinates `range`, with its own scratch; adds to hits[0..<n].
    private static func runRange(_ inputs: [UnsafePointer<Float>], _ scales: [Float], _ range: Range<Int>, trim: Int,
                                 network: SortingNetwork, into out: UnsafeMutablePointer<Float>,
                                 hits: UnsafeMutablePointer<Int>) {
        let n = inputs.count
        guard !range.isEmpty else { return }
        let kept = n - 2 * trim
        let block = max(lanes, tileBytes / (4 * n) / lanes * lanes)
        let tile = UnsafeMutablePointer<Keys>.allocate(capacity: block / lanes * n)
        let work = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: n)
        let hitLanes = UnsafeMutablePointer<Keys>.allocate(capacity: n)
        hitLanes.initialize(repeating: .zero, count: n)
        defer { tile.deallocate(); work.deallocate(); hitLanes.deallocate() }

        var start = range.lowerBound
        while start < range.upperBound {
            let len = min(block, range.upperBound - start)
            gather(inputs, scales, from: start, count: len, into: tile)
            var g = 0
            while g * lanes < len {
                let valid = min(lanes, len - g * lanes)
                let keys = tile + g * n
                let o = out + start + g * lanes
                if trim == 0 {
                    meanOfAll(keys, n: n, valid: valid, into: o)
                } else {
                    for i in 0..<n { work[i] = value(keys[i]) }
                    network.apply(work)
                    let (lo, hi) = thresholds(keys, n: n, ranks: (trim, n - 1 - trim), values: (work[trim], work[n - 1 - trim]))
                    // Four lanes at a time from here: at the SSE2 baseline a quarter is one register,
                    // and the passes need a dozen live vectors.
                    for q in 0..<4 where 4 * q < valid {
                        reduce(Quarter(keys: keys, hits: hitLanes, q: q), n: n, trim: trim, kept: kept,
                               lo: quarter(lo, q), hi: quarter(hi, q), valid: min(4, valid - 4 * q), into: o + 4 * q)
                    }
                }
                g += 1
            }
            start += len
        }
        for i in 0..<n {
            hits[i] += trim == 0 ? range.count : hitLanes[i].indices.reduce(0) { $0 + Int(hitLanes[i][$1]) }
        }
    }

    /// tile[g·n + i] = keys of scales[i]·inputs[i][start + 16g ..< start + 16g + 16]; lanes past
    /// `count` are filled with 0 (never counted or written).
    private static func gather(_ inputs: [UnsafePointer<Float>], _ scales: [Float], from start: Int, count: Int,
                               into tile: UnsafeMutablePointer<Keys>) {
        let n = inputs.count
        let full = count / lanes
        for i in 0..<n {
            let x = UnsafeRawPointer(inputs[i] + start)
            let s = SIMD16<Float>(repeating: scales[i])
            var dst = tile + i
            for g in 0..<full {
                dst.pointee = key(s * x.loadUnaligned(fromByteOffset: g * lanes * 4, as: SIMD16<Float>.self))
                dst += n
            }
            if full * lanes < count {
                var v = SIMD16<Float>.zero
                for l in 0..<(count - full * lanes) { v[l] = inputs[i][start + full * lanes + l] }
                dst.pointee = key(s * v)
            }
        }
    }

    /// The keys of the given ranks from the network's values at them. The network compares
    /// floats, where -0 == +0, so a zero threshold gets its sign from the count of keys below +0.
    @inline(__always)
    private static func thresholds(_ keys: UnsafeMutablePointer<Keys>, n: Int, ranks: (Int, Int),
                                   values: (SIMD16<Float>, SIMD16<Float>)) -> (Keys, Keys) {
        var lo = key(values.0), hi = key(values.1)
        let zeroLo = Keys.zero.replacing(with: -1, where: values.0 .== 0)
        let zeroHi = Keys.zero.replacing(with: -1, where: values.1 .== 0)
        if zeroLo | zeroHi != .zero {
            var belowPlusZero = Keys.zero
            for i in 0..<n { belowPlusZero &-= Keys.zero.replacing(with: -1, where: keys[i] .< .zero) }
            // Key -1 is -0, key 0 is +0; rank r is -0 when more than r keys lie below +0.
            let loSign = Keys.zero.replacing(with: -1, where: Keys(repeating: Int32(ranks.0)) .< belowPlusZero)
            let hiSign = Keys.zero.replacing(with: -1, where: Keys(repeating: Int32(ranks.1)) .< belowPlusZero)
            lo = (lo & ~zeroLo) | (loSign & zeroLo)
            hi = (hi & ~zeroHi) | (hiSign & zeroHi)
        }
        return (lo, hi)
    }

    typealias Lanes4 = SIMD4<Int32>

    /// Four lanes (quarter q) of one group's keys and of the per-input hit counters.
    struct Quarter {
        let keys: UnsafeMutableRawPointer
        let hits: UnsafeMutableRawPointer

        init(keys: UnsafeMutablePointer<Keys>, hits: UnsafeMutablePointer<Keys>, q: Int) {
            self.keys = UnsafeMutableRawPointer(keys) + 16 * q
            self.hits = UnsafeMutableRawPointer(hits) + 16 * q
        }

        @inline(__always) func key(_ i: Int) -> Lanes4 { keys.load(fromByteOffset: 64 * i, as: Lanes4.self) }

        /// Adds 1 to input i's counters in the lanes where `mask` is -1.
        @inline(__always) func count(_ i: Int, _ mask: Lanes4) {
            let h = hits.load(fromByteOffset: 64 * i, as: Lanes4.self)
            hits.storeBytes(of: h &- mask, toByteOffset: 64 * i, as: Lanes4.self)
        }
    }

    @inline(__always)
    private static func quarter(_ v: Keys, _ q: Int) -> Lanes4 {
        withUnsafeBytes(of: v) { $0.load(fromByteOffset: 16 * q, as: Lanes4.self) }
    }

    /// -1 where a < b, else 0 (masks stay Int32 vectors: logic on Swift's SIMDMask compiles badly).
    @inline(__always)
    private static func less(_ a: Lanes4, _ b: Lanes4) -> Lanes4 { Lanes4.zero.replacing(with: -1, where: a .< b) }

    @inline(__always)
    private static func equal(_ a: Lanes4, _ b: Lanes4) -> Lanes4 { Lanes4.zero.replacing(with: -1, where: a .== b) }

    /// Adds the values of `k` where `mask` is -1 to the running Double sums. Elsewhere +0 is
    /// added, which leaves a sum that started at +0 unchanged (it can never be -0).
    @inline(__always)
    private static func accumulate(_ k: Lanes4, _ mask: Lanes4, _ a: inout SIMD2<Double>, _ b: inout SIMD2<Double>) {
        let v = unsafeBitCast((k ^ ((k &>> 31) & Lanes4(repeating: 0x7FFF_FFFF))) & mask, to: SIMD4<Float>.self)
        a += SIMD2<Double>(v.lowHalf)
        b += SIMD2<Double>(v.highHalf)
    }

    /// Survivors of four coordinates: `lo` and `hi` are the keys of rank trim and n − 1 − trim.
    /// Without ties at the thresholds the survivors are exactly lo ≤ key ≤ hi; a lane where that
    /// admits more than `kept` inputs has ties, and the quarter is redone exactly.
    @inline(__always)
    private static func reduce(_ lanes: Quarter, n: Int, trim: Int, kept: Int, lo: Lanes4, hi: Lanes4, valid: Int,
                               into o: UnsafeMutablePointer<Float>) {
        let inRange = less(Lanes4(0, 1, 2, 3), Lanes4(repeating: Int32(valid)))
        var survivors = Lanes4.zero
        var sumA = SIMD2<Double>.zero, sumB = SIMD2<Double>.zero
        for i in 0..<n {
            let k = lanes.key(i)
            let survives = inRange & ~(less(k, lo) | less(hi, k))
            survivors &-= survives
            lanes.count(i, survives)
            if kept > 2 { accumulate(k, survives, &sumA, &sumB) }
        }
        guard survivors == (Lanes4(repeating: Int32(kept)) & inRange) else {
            for i in 0..<n {
                let k = lanes.key(i)
                lanes.count(i, Lanes4.zero &- (inRange & ~(less(k, lo) | less(hi, k))))
            }
            reduceWithTies(lanes, n: n, trim: trim, kept: kept, lo: lo, hi: hi, inRange: inRange, valid: valid, into: o)
            return
        }
        storeMean(kept: kept, sums: (sumA, sumB), lo: lo, hi: hi, valid: valid, into: o)
    }

    /// `reduce` for lanes with ties at a threshold: an input survives when its rank (keys below
    /// it, plus equal keys at lower positions) is in trim…n − 1 − trim.
    private static func reduceWithTies(_ lanes: Quarter, n: Int, trim: Int, kept: Int, lo: Lanes4, hi: Lanes4,
                                       inRange: Lanes4, valid: Int, into o: UnsafeMutablePointer<Float>) {
        var belowLo = Lanes4.zero, belowHi = Lanes4.zero
        for i in 0..<n {
            let k = lanes.key(i)
            belowLo &-= less(k, lo)
            belowHi &-= less(k, hi)
        }
        let first = Lanes4(repeating: Int32(trim)), last = Lanes4(repeating: Int32(n - 1 - trim))
        var seenLo = Lanes4.zero, seenHi = Lanes4.zero
        var sumA = SIMD2<Double>.zero, sumB = SIMD2<Double>.zero
        for i in 0..<n {
            let k = lanes.key(i)
            let atLo = equal(k, lo), atHi = equal(k, hi)
            let rankLo = belowLo &+ seenLo, rankHi = belowHi &+ seenHi
            seenLo &-= atLo
            seenHi &-= atHi
            let inside = less(lo, k) & less(k, hi)
            let keepLo = atLo & ~less(rankLo, first) & ~less(last, rankLo)
            let keepHi = atHi & ~less(rankHi, first) & ~less(last, rankHi)
            let survives = inRange & (inside | keepLo | keepHi)
            lanes.count(i, survives)
            if kept > 2 { accumulate(k, survives, &sumA, &sumB) }
        }
        storeMean(kept: kept, sums: (sumA, sumB), lo: lo, hi: hi, valid: valid, into: o)
    }

    /// Writes the survivors' mean for four lanes: the Double sum / kept, or straight from the
    /// thresholds when at most two values survive (then `sums` is unused).
    @inline(__always)
    private static func storeMean(kept: Int, sums: (SIMD2<Double>, SIMD2<Double>), lo: Lanes4, hi: Lanes4, valid: Int,
                                  into o: UnsafeMutablePointer<Float>) {
        let mean: SIMD4<Float>
        if kept > 2 {
            let d = Double(kept)
            mean = SIMD4(lowHalf: SIMD2<Float>(sums.0 / d), highHalf: SIMD2<Float>(sums.1 / d))
        } else if kept == 2 {
            // Two survivors: (+0 + a) + b is the same in either order.
            let a = value4(lo), b = value4(hi)
            let low = (SIMD2<Double>.zero + SIMD2<Double>(a.lowHalf)) + SIMD2<Double>(b.lowHalf)
            let high = (SIMD2<Double>.zero + SIMD2<Double>(a.highHalf)) + SIMD2<Double>(b.highHalf)
            mean = SIMD4(lowHalf: SIMD2<Float>(low / 2), highHalf: SIMD2<Float>(high / 2))
        } else {
            // One survivor: +0 + v turns -0 into +0 like the summed cases and leaves all else exact.
            mean = value4(lo) + SIMD4<Float>.zero
        }
        if valid == 4 {
            UnsafeMutableRawPointer(o).storeBytes(of: mean, as: SIMD4<Float>.self)
        } else {
            for l in 0..<valid { o[l] = mean[l] }
        }
    }

    /// No trimming: +0 + Σ of all n values per lane in Double, in input order, over n.
    @inline(__always)
    private static func meanOfAll(_ keys: UnsafeMutablePointer<Keys>, n: Int, valid: Int, into o: UnsafeMutablePointer<Float>) {
        for q in 0..<4 where 4 * q < valid {
            let lanes = Quarter(keys: keys, hits: keys, q: q)
            var sumA = SIMD2<Double>.zero, sumB = SIMD2<Double>.zero
            for i in 0..<n { accumulate(lanes.key(i), Lanes4(repeating: -1), &sumA, &sumB) }
            let d = Double(n)
            let mean = SIMD4(lowHalf: SIMD2<Float>(sumA / d), highHalf: SIMD2<Float>(sumB / d))
            for l in 0..<min(4, valid - 4 * q) { o[4 * q + l] = mean[l] }
        }
    }

    /// Maps float bits to Int32 so signed integer order is float order (-0 below +0).
    @inline(__always)
    static func key(_ v: SIMD16<Float>) -> Keys {
        let b = unsafeBitCast(v, to: Keys.self)
        return b ^ ((b &>> 31) & Keys(repeating: 0x7FFF_FFFF))
    }

    /// The inverse of `key` (the map is an involution).
    @inline(__always)
    static func value(_ k: Keys) -> SIMD16<Float> {
        unsafeBitCast(k ^ ((k &>> 31) & Keys(repeating: 0x7FFF_FFFF)), to: SIMD16<Float>.self)
    }

    @inline(__always)
    private static func value4(_ k: Lanes4) -> SIMD4<Float> {
        unsafeBitCast(k ^ ((k &>> 31) & Lanes4(repeating: 0x7FFF_FFFF)), to: SIMD4<Float>.self)
    }
}
