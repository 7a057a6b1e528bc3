/// Read-only access to many `[Float]` at once, without copying any of them.
enum FloatPointers {
    /// Calls `body` with the base address of every array, in order. Arrays of length 0 get a
    /// non-dereferenceable placeholder; kernels never touch memory when the length is 0.
    static func with<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
        var bases: [UnsafePointer<Float>] = []
        bases.reserveCapacity(arrays.count)
        return try nest(arrays, 0, &bases, body)
    }

    // Each level keeps one array pinned while the next level runs, so all stay valid in `body`.
    private static func nest<R>(_ arrays: [[Float]], _ i: Int, _ bases: inout [UnsafePointer<Float>],
                                _ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
        if i == arrays.count { return try body(bases) }
        return try arrays[i].withUnsafeBufferPointer { buffer in
            bases.append(buffer.baseAddress ?? placeholder)
            return try nest(arrays, i + 1, &bases, body)
        }
    }

    private static var placeholder: UnsafePointer<Float> { UnsafePointer(bitPattern: MemoryLayout<Float>.alignment)! }

    /// `squaredNorm`'s block: its partial sums are reset and added into the Double total every
    /// `normBlock` floats (`WeightedSumKernel.runWithSquaredNorms` follows the same blocks).
    static let normBlock = 4096

    /// Σ (s·x_k)² in Double, blocked with 8-lane Float partial sums per block; s·x_k is rounded
    /// to Float first, so the norm of x scaled by s equals the norm of a Float copy of x
    /// multiplied by s element by element, bit for bit (s = 1: the norm of x itself).
    static func squaredNorm(_ x: UnsafePointer<Float>, count: Int, scale s: Float = 1) -> Double {
        var total = 0.0
        var start = 0
        let block = normBlock
        let vs = SIMD8<Float>(repeating: s)
        while start < count {
            let end = min(count, start + block)
            var acc = SIMD8<Float>(repeating: 0)
            var j = start
            let raw = UnsafeRawPointer(x)
            while j + 8 <= end {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * vs
                acc += v * v
                j += 8
            }
            var partial = Double(acc.sum())
            while j < end { let y = x[j] * s; partial += Double(y) * Double(y); j += 1 }
            total += partial
            start = end
        }
        return total
    }

    /// Σ (a·x − b·y)² in Double, blocked like `squaredNorm`.
    static func squaredDistance(_ x: UnsafePointer<Float>, scale a: Float, _ y: UnsafePointer<Float>, scale b: Float,
                                range: Range<Int>) -> Double {
        var total = 0.0
        var start = range.lowerBound
        let block = 4096
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        let va = SIMD8<Float>(repeating: a), vb = SIMD8<Float>(repeating: b)
        while start < range.upperBound {
            let end = min(range.upperBound, start + block)
            var acc = SIMD8<Float>(repeating: 0)
            var j = start
            while j + 8 <= end {
                let d = va * rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    - vb * ry.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                acc += d * d
                j += 8
            }
            var partial = Double(acc.sum())
            while j < end {
                let d = Double(a * x[j]) - Double(b * y[j])
                partial += d * d
                j += 1
            }
            total += partial
            start = end
        }
        return total
    }
}

/// Float(f·x) element by element, into a new array in one pass: buffered mode's staleness
/// discount for the paths that need a scaled copy (`aggregate`'s non-weighted-mean strategies, the
/// server's central-DP rounds). The delta's storage is usually shared (the round's outcome and
/// the run state hold it too), so scaling it in place would make copy-on-write copy it first.
public func scaledCopy(_ x: [Float], by f: Float) -> [Float] {
    x.withUnsafeBufferPointer { d in
        [Float](unsafeUninitializedCapacity: d.count) { out, n in
            for j in d.indices { out[j] = d[j] * f }
            n = d.count
        }
    }
}
