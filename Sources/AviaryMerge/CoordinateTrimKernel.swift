/// Coordinate-wise trimmed mean over n vectors; the median is the case trim = ⌊(n − 1)/2⌋.
///
/// For each coordinate the n values are ranked, `trim` are dropped at each end and the survivors
/// are summed in Double in input (client-index) order starting from +0, then divided by their
/// count and rounded to Float. Ranks are those of (value, input position): ties break by position, so the
/// survivors, the result and the reported hits are deterministic; -0 ranks below +0.
///
/// Vectorised across coordinates: a block of coordinates is gathered from all inputs into an
/// L2-sized tile of order-preserving Int32 keys, 16 coordinates per SIMD vector (one lane per
/// coordinate). Per 16 coordinates a pruned `SortingNetwork` over the n vectors finds the keys
/// of rank trim and n − 1 − trim with min/max only; a second pass ranks every input against
/// those two thresholds (counting equal keys in input order for ties) to decide who survived.
enum CoordinateTrimKernel {
    typealias Keys = SIMD16<Int32>
    static let lanes = Keys.scalarCount

    /// Runs the kernel; `hits[i]` counts the coordinates where input i was among the survivors.
    static func run(inputs: [UnsafePointer<Float>], scales: [Float], count: Int, trim: Int,
                    into out: UnsafeMutablePointer<Float>, hits: inout [Int]) {
        let n = inputs.count
        precondition(n > 0 && n == scales.count && 2 * trim < n && n <= Int(Int32.max))
        hits = [Int](repeating: 0, count: n)
        guard count > 0 else { return }
        let kept = n - 2 * trim
        let network = trim > 0 ? SortingNetwork(count: n, ranks: [trim, n - 1 - trim]) : SortingNetwork(count: 0)
        // ~256 KiB of keys per block whatever n is (half of L2).
        let block = max(lanes, (256 * 1024) / (4 * n) / lanes * lanes)
        let tile = UnsafeMutablePointer<Keys>.allocate(capacity: block / lanes * n)
        let work = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: n)
        let hitLanes = UnsafeMutablePointer<Keys>.allocate(capacity: n)
        hitLanes.initialize(repeating: .zero, count: n)
        defer { tile.deallocate(); work.deallocate(); hitLanes.deallocate() }

        var start = 0
        while start < count {
            let len = min(block, count - start)
            gather(inputs, scales, from: start, count: len, into: tile)
            var g = 0
            while g * lanes < len {
                let valid = min(lanes, len - g * lanes)
                let keys = tile + g * n
                let o = out + start + g * lanes
                if trim == 0 {
                    store(sumAll(keys, n) / Double(n), valid: valid, into: o)
                } else {
                    for i in 0..<n { work[i] = value(keys[i]) }
                    network.apply(work)
                    let (lo, hi) = thresholds(keys, n: n, ranks: (trim, n - 1 - trim), values: (work[trim], work[n - 1 - trim]))
                    reduce(keys, n: n, trim: trim, kept: kept, lo: lo, hi: hi, valid: valid, hitLanes: hitLanes, into: o)
                }
                g += 1
            }
            start += len
        }
        if trim == 0 {
            for i in 0..<n { hits[i] = count }
        } else {
            for i in 0..<n { hits[i] = hitLanes[i].indices.reduce(0) { $0 + Int(hitLanes[i][$1]) } }
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
        let zeroLo = values.0 .== 0, zeroHi = values.1 .== 0
        if any(zeroLo .| zeroHi) {
            let zero = Keys.zero, one = Keys(repeating: 1), minusZero = Keys(repeating: -1)
            var belowPlusZero = zero
            for i in 0..<n { belowPlusZero &+= zero.replacing(with: one, where: keys[i] .< zero) }
            lo = lo.replacing(with: zero.replacing(with: minusZero, where: Keys(repeating: Int32(ranks.0)) .< belowPlusZero),
                              where: zeroLo)
            hi = hi.replacing(with: zero.replacing(with: minusZero, where: Keys(repeating: Int32(ranks.1)) .< belowPlusZero),
                              where: zeroHi)
        }
        return (lo, hi)
    }

    /// Survivors of one group of 16 coordinates: `lo` and `hi` are the keys of rank trim and
    /// n − 1 − trim. Without ties at the thresholds the survivors are exactly lo ≤ key ≤ hi; a
    /// lane where that admits more than `kept` inputs has ties, and the group is redone exactly.
    @inline(__always)
    private static func reduce(_ keys: UnsafeMutablePointer<Keys>, n: Int, trim: Int, kept: Int, lo: Keys, hi: Keys,
                               valid: Int, hitLanes: UnsafeMutablePointer<Keys>, into o: UnsafeMutablePointer<Float>) {
        let inRange = Keys(repeating: Int32(valid)) .> Keys(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let ones = Keys.zero.replacing(with: 1, where: inRange)
        var survivors = Keys.zero
        var sumA = SIMD8<Double>.zero, sumB = SIMD8<Double>.zero
        for i in 0..<n {
            let k = keys[i]
            let survives = .!((k .< lo) .| (k .> hi))
            let counted = Keys.zero.replacing(with: ones, where: survives)
            survivors &+= counted
            hitLanes[i] &+= counted
            if kept > 2 {
                // -0.0 is the exact identity of addition, so dropped values leave the sum unchanged.
                let v = SIMD16<Float>(repeating: -0.0).replacing(with: value(k), where: survives)
                sumA += SIMD8<Double>(v.lowHalf)
                sumB += SIMD8<Double>(v.highHalf)
            }
        }
        guard survivors == ones &* Int32(kept) else {
            for i in 0..<n {
                let k = keys[i]
                hitLanes[i] &-= Keys.zero.replacing(with: ones, where: .!((k .< lo) .| (k .> hi)))
            }
            reduceWithTies(keys, n: n, trim: trim, kept: kept, lo: lo, hi: hi, valid: valid, hitLanes: hitLanes, into: o)
            return
        }
        storeMean(kept: kept, sum: SIMD16(lowHalf: sumA, highHalf: sumB), lo: lo, hi: hi, valid: valid, into: o)
    }

    /// `reduce` for groups with ties at a threshold: an input survives when its rank (keys below
    /// it, plus equal keys at lower positions) is in trim…n − 1 − trim.
    private static func reduceWithTies(_ keys: UnsafeMutablePointer<Keys>, n: Int, trim: Int, kept: Int, lo: Keys, hi: Keys,
                                       valid: Int, hitLanes: UnsafeMutablePointer<Keys>, into o: UnsafeMutablePointer<Float>) {
        let one = Keys(repeating: 1), zero = Keys.zero
        var belowLo = zero, belowHi = zero
        for i in 0..<n {
            let k = keys[i]
            belowLo &+= zero.replacing(with: one, where: k .< lo)
            belowHi &+= zero.replacing(with: one, where: k .< hi)
        }
        let first = Keys(repeating: Int32(trim)), last = Keys(repeating: Int32(n - 1 - trim))
        let inRange = Keys(repeating: Int32(valid)) .> Keys(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        var seenLo = zero, seenHi = zero
        var sumA = SIMD8<Double>.zero, sumB = SIMD8<Double>.zero
        for i in 0..<n {
            let k = keys[i]
            let atLo = k .== lo, atHi = k .== hi
            let rankLo = belowLo &+ seenLo, rankHi = belowHi &+ seenHi
            seenLo &+= zero.replacing(with: one, where: atLo)
            seenHi &+= zero.replacing(with: one, where: atHi)
            var survives = (k .> lo) .& (k .< hi)
            survives .|= atLo .& (rankLo .>= first) .& (rankLo .<= last)
            survives .|= atHi .& (rankHi .>= first) .& (rankHi .<= last)
            survives .&= inRange
            hitLanes[i] &+= zero.replacing(with: one, where: survives)
            if kept > 2 {
                let v = SIMD16<Float>(repeating: -0.0).replacing(with: value(k), where: survives)
                sumA += SIMD8<Double>(v.lowHalf)
                sumB += SIMD8<Double>(v.highHalf)
            }
        }
        storeMean(kept: kept, sum: SIMD16(lowHalf: sumA, highHalf: sumB), lo: lo, hi: hi, valid: valid, into: o)
    }

    /// Writes the mean of the survivors: sum / kept, or straight from the thresholds when at most
    /// two values survive (then `sum` is unused).
    @inline(__always)
    private static func storeMean(kept: Int, sum: SIMD16<Double>, lo: Keys, hi: Keys, valid: Int,
                                  into o: UnsafeMutablePointer<Float>) {
        if kept > 2 {
            store(sum / Double(kept), valid: valid, into: o)
        } else if kept == 2 {
            // Two survivors: (+0 + a) + b is the same in either order.
            let a = value(lo), b = value(hi)
            let sum = SIMD16(lowHalf: (SIMD8<Double>.zero + SIMD8<Double>(a.lowHalf)) + SIMD8<Double>(b.lowHalf),
                             highHalf: (SIMD8<Double>.zero + SIMD8<Double>(a.highHalf)) + SIMD8<Double>(b.highHalf))
            store(sum / 2, valid: valid, into: o)
        } else {
            // One survivor: +0 + v turns -0 into +0 like the summed cases and leaves all else exact.
            store(value(lo) + SIMD16<Float>.zero, valid: valid, into: o)
        }
    }

    /// +0 + Σ of all n values per lane in Double, in input order (no trimming).
    @inline(__always)
    private static func sumAll(_ keys: UnsafeMutablePointer<Keys>, _ n: Int) -> SIMD16<Double> {
        var sumA = SIMD8<Double>.zero, sumB = SIMD8<Double>.zero
        for i in 0..<n {
            let v = value(keys[i])
            sumA += SIMD8<Double>(v.lowHalf)
            sumB += SIMD8<Double>(v.highHalf)
        }
        return SIMD16(lowHalf: sumA, highHalf: sumB)
    }

    @inline(__always)
    private static func store(_ means: SIMD16<Double>, valid: Int, into o: UnsafeMutablePointer<Float>) {
        store(SIMD16<Float>(means), valid: valid, into: o)
    }

    @inline(__always)
    private static func store(_ v: SIMD16<Float>, valid: Int, into o: UnsafeMutablePointer<Float>) {
        if valid == lanes {
            UnsafeMutableRawPointer(o).storeBytes(of: v, as: SIMD16<Float>.self)
        } else {
            for l in 0..<valid { o[l] = v[l] }
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
}
