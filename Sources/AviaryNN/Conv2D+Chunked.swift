import AviaryMath

/// Convolutions (ResNet's and the CNN's) run over the
/// batch in chunks of samples whose column block fits in L2 (2 MB per core on current Xeons), so
/// each im2col is read back by OpenBLAS's packing from cache instead of from a batch-wide matrix
/// (19 MB for a 16-channel 32×32 layer at batch 32). One sgemm per chunk writes its columns of the
/// CNHW output (leading dimension B·Ho·Wo); the weight gradient accumulates over the chunks.
extension Conv2D {
    /// Floats a chunk's column block may take (1 MB: half of L2, leaving room for packed panels).
    static let chunkBudget = 1 << 18

    /// Samples per chunk for a column block of `rows` × (samples · plane) floats.
    static func chunkSamples(rows: Int, plane: Int, batch: Int) -> Int {
        max(1, min(batch, chunkBudget / max(1, rows * plane)))
    }

    /// Samples in each chunk `forEachChunk` visits.
    static func chunkSizes(batch: Int, samples: Int) -> [Int] {
        var sizes: [Int] = []
        forEachChunk(batch: batch, samples: samples) { _, n in sizes.append(n) }
        return sizes
    }

    /// Calls `body(first sample, samples)` for consecutive chunks covering 0..<batch.
    @inline(__always)
    static func forEachChunk(batch: Int, samples: Int, _ body: (Int, Int) -> Void) {
        var b0 = 0
        while b0 < batch {
            let n = min(samples, batch - b0)
            body(b0, n)
            b0 += n
        }
    }

    /// out (Cout, B·Ho·Wo) = weight · im2col(inp) (+ bias), chunk by chunk through `col`.
    static func chunkedForward(
        out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, layout: PlaneLayout, col: UnsafeMutablePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int, geometry g: ConvGeometry
    ) {
        let plane = g.outHeight * g.outWidth, columns = batch * plane
        forEachChunk(batch: batch, samples: chunkSamples(rows: g.patch, plane: plane, batch: batch)) { b0, n in
            // The bias goes into the chunk's output block just before the sgemm adds to it, while it is in cache.
            if let bias {
                for c in 0..<g.outChannels { (out + c * columns + b0 * plane).update(repeating: bias[c], count: n * plane) }
            }
            im2col(col: col, inp: inp + b0 * layout.batchStride, layout: layout, batch: n, channels: g.inChannels,
                   height: g.height, width: g.width, kernel: g.kernel, padding: g.padding, stride: g.stride)
            BLAS.sgemm(transA: false, transB: false, m: g.outChannels, n: n * plane, k: g.patch,
                       alpha: 1, a: weight, lda: g.patch, b: col, ldb: n * plane,
                       beta: bias == nil ? 0 : 1, c: out + b0 * plane, ldc: columns)
        }
    }

    /// sink.weight += scale · dOut · im2col(inp)ᵀ (and sink.bias += scale · row sums of dOut), chunk by chunk.
    static func chunkedWeightGradient(
        sink: ParameterSink, dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, layout: PlaneLayout,
        col: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry
    ) {
        let plane = g.outHeight * g.outWidth, columns = batch * plane
        forEachChunk(batch: batch, samples: chunkSamples(rows: g.patch, plane: plane, batch: batch)) { b0, n in
            im2col(col: col, inp: inp + b0 * layout.batchStride, layout: layout, batch: n, channels: g.inChannels,
                   height: g.height, width: g.width, kernel: g.kernel, padding: g.padding, stride: g.stride)
            BLAS.sgemm(transA: false, transB: true, m: g.outChannels, n: g.patch, k: n * plane,
                       alpha: sink.scale, a: dOut + b0 * plane, lda: columns, b: col, ldb: n * plane,
                       beta: 1, c: sink.weight, ldc: g.patch)
        }
        guard let bias = sink.bias else { return }
        for c in 0..<g.outChannels { bias[c] += sink.scale * fastSum(dOut + c * columns, columns) }
    }

    /// dInp (planes per `layout`) = (or += when `accumulate`) ∂L/∂x through the column gradient
    /// Wᵀ · dOut and col2im, chunk by chunk through `dCol`.
    static func chunkedColumnInputGradient(
        dInp: UnsafeMutablePointer<Float>, accumulate: Bool, layout: PlaneLayout, dOut: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, dCol: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry
    ) {
        let plane = g.outHeight * g.outWidth, columns = batch * plane
        // A "same" stride-1 convolution's col2im writes every input element itself (`sameCol2im`).
        let same = g.stride == 1 && g.outHeight == g.height && g.outWidth == g.width
        if !accumulate && !same { dInp.update(repeating: 0, count: batch * g.inChannels * g.height * g.width) }
        forEachChunk(batch: batch, samples: chunkSamples(rows: g.patch, plane: plane, batch: batch)) { b0, n in
            BLAS.sgemm(transA: true, transB: false, m: g.patch, n: n * plane, k: g.outChannels,
                       alpha: 1, a: weight, lda: g.patch, b: dOut + b0 * plane, ldb: columns, beta: 0, c: dCol, ldc: n * plane)
            if same {
                sameCol2im(dInp: dInp + b0 * layout.batchStride, layout: layout, dCol: dCol, batch: n, channels: g.inChannels,
                           height: g.height, width: g.width, kernel: g.kernel, padding: g.padding, accumulate: accumulate)
            } else {
                col2imAccumulate(dInp: dInp + b0 * layout.batchStride, layout: layout, dCol: dCol, batch: n, channels: g.inChannels,
                                 height: g.height, width: g.width, kernel: g.kernel, padding: g.padding, stride: g.stride)
            }
        }
    }

    /// `transposedInputGradient` chunk by chunk: dInp (Cin, B·H·W) = (or +=) flipped · im2col(dOut).
    static func chunkedTransposedInputGradient(
        dInp: UnsafeMutablePointer<Float>, accumulate: Bool, dOut: UnsafePointer<Float>, flipped: UnsafePointer<Float>,
        col: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry
    ) {
        let plane = g.height * g.width, columns = batch * plane, depth = g.outChannels * g.kernel * g.kernel
        let layout = PlaneLayout.cnhw(batch: batch, plane: plane)
        forEachChunk(batch: batch, samples: chunkSamples(rows: depth, plane: plane, batch: batch)) { b0, n in
            im2col(col: col, inp: dOut + b0 * plane, layout: layout, batch: n, channels: g.outChannels,
                   height: g.height, width: g.width, kernel: g.kernel, padding: g.kernel - 1 - g.padding)
            BLAS.sgemm(transA: false, transB: false, m: g.inChannels, n: n * plane, k: depth,
                       alpha: 1, a: flipped, lda: depth, b: col, ldb: n * plane,
                       beta: accumulate ? 1 : 0, c: dInp + b0 * plane, ldc: columns)
        }
    }
}
