import AviaryMath
import CVectorKernels

/// Clipping and stochastic-rounding quantisation of real updates into Z_{2^b}, and back.
///
/// A coordinate x is clipped to [−c, c] and mapped to the grid {0, 1, …, L} with
/// L = 2^quantisationBits − 1: q = (x + c)·L / (2c), rounded down or up at random with the
/// probability of its fractional part (unbiased: E[q] is the unrounded value). Coordinate j's
/// draw is draw j of `RandomLanes` seeded from the caller's stream (eight xoshiro256** lanes,
/// lane j mod 8; the stream itself advances by the 32 seeding draws), so the draws come eight
/// per vector step. The ring sum of
/// n clients is then an integer in [0, n·L]; `validate(clients:)` refuses any n with
/// n·L ≥ 2^modulusBits, so the modular sum never wraps and equals the integer sum exactly.
/// Dequantising that sum gives Σx − noise: S·2c/L − n·c.
public struct FixedPointQuantiser: Sendable, Equatable {
    public let clippingRange: Double
    public let quantisationBits: Int
    public let modulusBits: Int

    /// - Throws: a non-positive or non-finite range; bits outside 1 ≤ quantisation < modulus ≤ 32.
    public init(clippingRange: Double, quantisationBits: Int, modulusBits: Int) throws(SecAggError) {
        guard clippingRange > 0, clippingRange.isFinite else {
            throw .invalidParameters("clipping_range must be positive and finite, got \(clippingRange)")
        }
        guard modulusBits >= 2, modulusBits <= 32 else {
            throw .invalidParameters("modulus_bits must be in 2…32 (the ring is Z_2^b on 32-bit words), got \(modulusBits)")
        }
        guard quantisationBits >= 1, quantisationBits < modulusBits else {
            throw .invalidParameters("quantization_bits must be in 1…\(modulusBits - 1) (below modulus_bits), got \(quantisationBits)")
        }
        self.clippingRange = clippingRange; self.quantisationBits = quantisationBits; self.modulusBits = modulusBits
    }

    /// L: the top grid point.
    public var levels: UInt64 { (UInt64(1) << UInt64(quantisationBits)) - 1 }

    /// The largest number of clients whose sum cannot wrap: ⌊(2^b − 1) / L⌋.
    public var maxClients: Int { Int(((UInt64(1) << UInt64(modulusBits)) - 1) / levels) }

    public func validate(clients: Int) throws(SecAggError) {
        guard clients <= maxClients else { throw .sumCouldWrap(clients: clients, levels: levels, modulusBits: modulusBits) }
    }

    /// Clips and quantises `values`, drawing the rounding from `stream`.
    /// - Throws: `nonFiniteInput` naming the first non-finite coordinate.
    public func quantise(_ values: [Double], stream: inout RandomStream) throws(SecAggError) -> [UInt32] {
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteInput(index: bad) }
        let scale = self.scale
        return [UInt32](unsafeUninitializedCapacity: values.count) { out, initialised in
            values.withUnsafeBufferPointer { v in
                forEachBlock(count: v.count, stream: &stream, vectorLevel: VectorKernels.level) { start, n, draws in
                    for j in 0..<n { out[start + j] = round(v[start + j], draw: draws[j], scale: scale) }
                }
            }
            initialised = values.count
        }
    }

    /// `quantise(WeightedInput.make(delta:weight:clippingRange:), stream:)` with this
    /// quantiser's clipping range, in one pass over the f32 delta (no [Double] copy of it, and
    /// the finiteness check rides in the rounding kernel): the same numbers, the same draws from
    /// `stream`, the same errors. The delta's
    /// coordinates go through the widest rounding kernel the CPU runs (CVectorKernels/secagg.h,
    /// the scalar `round` step for step).
    public func quantiseWeighted(delta: [Float], weight: Double, stream: inout RandomStream) throws(SecAggError) -> [UInt32] {
        try quantiseWeighted(delta: delta, weight: weight, stream: &stream, vectorLevel: VectorKernels.level)
    }

    /// `vectorLevel` picks the kernel (`VectorKernels.level`'s scale: 2 AVX-512, 1 AVX2, 0 the
    /// scalar loop), so tests can hold each one the CPU runs against the scalar definition.
    func quantiseWeighted(delta: [Float], weight: Double, stream: inout RandomStream, vectorLevel: Int) throws(SecAggError) -> [UInt32] {
        var failure: SecAggError?
        let out = [UInt32](unsafeUninitializedCapacity: delta.count + 1) { out, initialised in
            do throws(SecAggError) {
                try quantiseWeighted(delta: delta, weight: weight, stream: &stream, vectorLevel: vectorLevel, into: out.baseAddress!)
            } catch { failure = error }
            initialised = failure == nil ? delta.count + 1 : 0
        }
        if let failure { throw failure }
        return out
    }

    /// The same integers written straight into a stage-3 reply body (`MaskedInputBody`), which
    /// the client later masks in place and sends: no separate input array, no copy into a body.
    public func quantiseWeightedBody(delta: [Float], weight: Double, stream: inout RandomStream) throws(SecAggError) -> MaskedInputBody {
        try MaskedInputBody(count: delta.count + 1) { (words: UnsafeMutablePointer<UInt32>) throws(SecAggError) in
            try quantiseWeighted(delta: delta, weight: weight, stream: &stream, vectorLevel: VectorKernels.level, into: words)
        }
    }

    /// The fused pass into `out` (delta.count + 1 words; written in full unless it throws).
    private func quantiseWeighted(delta: [Float], weight: Double, stream: inout RandomStream, vectorLevel: Int,
                                  into out: UnsafeMutablePointer<UInt32>) throws(SecAggError) {
        try WeightedInput.checkWeight(weight)
        // The vector kernels flag a non-finite coordinate during the pass (one read of the delta,
        // not two); the scalar loop's integer conversion would trap on one, so it checks first.
        if vectorLevel == 0, let bad = Self.firstNonFinite(delta) { throw .nonFiniteInput(index: bad) }
        let c = clippingRange, scale = self.scale, n = delta.count
        var sawNonFinite = false
        delta.withUnsafeBufferPointer { d in
            forEachBlock(count: n + 1, stream: &stream, vectorLevel: vectorLevel) { start, count, draws in
                // The block's delta coordinates; the last block also holds the weight's (n).
                let fromDelta = min(count, n - start)
                if fromDelta > 0, roundWeighted(out + start, d.baseAddress! + start, UnsafePointer(draws.baseAddress!),
                                                count: fromDelta, weight: weight, vectorLevel: vectorLevel) {
                    sawNonFinite = true
                }
                if fromDelta < count { out[n] = round(weight * c, draw: draws[count - 1], scale: scale) }
            }
        }
        if sawNonFinite, let bad = delta.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteInput(index: bad) }
    }

    /// out[j] = round(weight · clip(x[j]), draws[j]) for j < count, with the kernel `vectorLevel`
    /// names. Returns whether a vector kernel saw a non-finite x[j] (those integers are then
    /// meaningless); the scalar loop takes finite x only (its caller checks) and returns false.
    @discardableResult
    func roundWeighted(_ out: UnsafeMutablePointer<UInt32>, _ x: UnsafePointer<Float>, _ draws: UnsafePointer<UInt64>,
                       count: Int, weight: Double, vectorLevel: Int) -> Bool {
        let c = clippingRange, scale = self.scale
        switch vectorLevel {
        #if arch(x86_64)
        case 2: return aviary_round_weighted_avx512(out, x, draws, count, weight, c, scale, Double(levels)) != 0
        case 1: return aviary_round_weighted_avx2(out, x, draws, count, weight, c, scale, Double(levels)) != 0
        #endif
        default:
            for j in 0..<count { out[j] = round(weight * min(max(Double(x[j]), -c), c), draw: draws[j], scale: scale) }
            return false
        }
    }

    /// The index of the first non-finite value, if any. A float is non-finite exactly when its
    /// magnitude bits are ≥ 0x7f80_0000, i.e. when adding 0x0080_0000 to them sets bit 31; OR-ing
    /// that over the vector is a branch-free loop the compiler vectorises, where `firstIndex`'s
    /// early exit kept the scan scalar (perf: ~40 % of the quantiser's remaining time). The
    /// index search runs only when the flag is set.
    static func firstNonFinite(_ values: [Float]) -> Int? {
        var flag: UInt32 = 0
        values.withUnsafeBufferPointer { v in
            for x in v { flag |= (x.bitPattern & 0x7fff_ffff) &+ 0x0080_0000 }
        }
        guard flag & 0x8000_0000 != 0 else { return nil }
        return values.firstIndex { !$0.isFinite }
    }

    /// Levels per unit of the clipped range: L / 2c.
    private var scale: Double { Double(levels) / (2 * clippingRange) }

    /// Draws one 64-bit number per coordinate for `count` coordinates, a block at a time, in
    /// order, and hands each block to `body(start, count, draws)`: with the draws taken first,
    /// the rounding is branch-free (`u < fraction` as 0 or 1; a data-dependent branch taken
    /// half the time was most of the scalar loop's cost) and can run vectorised. The draws are
    /// `RandomLanes`' (seeded from `stream`), generated by the kernel `vectorLevel` names: the
    /// same numbers at every level. Blocks are whole groups of 8, so coordinate j always takes
    /// draw j; the last group's draws past `count` are dropped.
    @inline(__always)
    private func forEachBlock(count: Int, stream: inout RandomStream, vectorLevel: Int,
                              _ body: (Int, Int, UnsafeMutableBufferPointer<UInt64>) -> Void) {
        let blockSize = 1024  // a multiple of RandomLanes.lanes
        var lanes = RandomLanes(seededFrom: &stream)
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: blockSize) { draws in
            var start = 0
            while start < count {
                let n = min(blockSize, count - start)
                lanes.fill(draws.baseAddress!, groups: (n + RandomLanes.lanes - 1) / RandomLanes.lanes, vectorLevel: vectorLevel)
                body(start, n, draws)
                start += n
            }
        }
    }

    /// Stochastic rounding of one value (the definition the kernels reproduce): clip to
    /// [−c, c], scale onto [0, L], round down or up with the probability of the fraction.
    @inline(__always)
    private func round(_ value: Double, draw: UInt64, scale: Double) -> UInt32 {
        let c = clippingRange
        let scaled = (min(max(value, -c), c) + c) * scale
        // scaled ≥ 0, so truncation is the floor. Signed conversions (one instruction each) of
        // values below 2^53: the same numbers as UInt64(_:) and nextDouble().
        let floor = Int64(scaled)
        let u = Double(Int64(bitPattern: draw >> 11)) * 0x1.0p-53
        let q = UInt64(bitPattern: floor) &+ (u < scaled - Double(floor) ? 1 : 0)
        return UInt32(truncatingIfNeeded: min(q, levels))
    }

    /// The real sum of `clients` quantised vectors from their ring sum (which did not wrap).
    public func dequantiseSum(_ sum: [UInt32], clients: Int) -> [Double] {
        let step = 2 * clippingRange / Double(levels), offset = Double(clients) * clippingRange
        return sum.map { Double($0) * step - offset }
    }

    /// Quantisation step: the grid spacing 2c/L, the worst-case rounding error per coordinate
    /// and client.
    public var step: Double { 2 * clippingRange / Double(levels) }
}

/// Weighted aggregation under secure aggregation: each client masks w·Δ and w·c together.
///
/// The client clips Δ to [−c, c] and multiplies it by its weight w ∈ (0, 1] (the run's rule
/// scales weights into that range), then appends w·c as one extra coordinate, which stays in
/// [0, c] and so needs no second quantiser. From the dequantised sum the server reads
/// Σ w_iΔ_i (the first d coordinates) and Σ w_i (the last one, divided by c), and divides.
/// FedAvg's w is the client's sample count scaled, uniform's is 1, MWA's the client's own
/// metric-based weight: the server learns only the sums, not any single weight.
public enum WeightedInput {
    /// [w·clip(Δ, c)…, w·c].
    /// - Throws: a weight outside (0, 1] or non-finite; a non-finite Δ coordinate.
    public static func make(delta: [Float], weight: Double, clippingRange c: Double) throws(SecAggError) -> [Double] {
        try checkWeight(weight)
        var out = [Double](); out.reserveCapacity(delta.count + 1)
        for (i, x) in delta.enumerated() {
            guard x.isFinite else { throw .nonFiniteInput(index: i) }
            out.append(weight * min(max(Double(x), -c), c))
        }
        out.append(weight * c)
        return out
    }

    static func checkWeight(_ weight: Double) throws(SecAggError) {
        guard weight > 0, weight <= 1, weight.isFinite else {
            throw .invalidParameters("a secure-aggregation weight must be in (0, 1], got \(weight)")
        }
    }

    /// The weighted mean Σw_iΔ_i / Σw_i and Σw_i from a dequantised weighted sum.
    /// - Throws: a vector without the weight coordinate, or a weight total that rounded to ≤ 0.
    public static func mean(ofDequantisedSum sum: [Double], clippingRange c: Double) throws(SecAggError) -> (mean: [Float], weightTotal: Double) {
        guard let last = sum.last else { throw .wrongInputLength(expected: 1, got: 0) }
        let total = last / c
        guard total > 0, total.isFinite else {
            throw .invalidParameters("the aggregated weight is \(total): nothing to divide by")
        }
        return (sum.dropLast().map { Float($0 / total) }, total)
    }
}
