import AviaryMath

/// Where the H×W plane of channel c, sample b starts: c·channelStride + b·batchStride.
/// The network's own input is NCHW (batchStride = C·H·W); inside the CNN activations are
/// CNHW (channelStride = B·H·W), so one sgemm covers the whole batch and its output is already
/// in that layout.
struct PlaneLayout {
    var channelStride: Int
    var batchStride: Int

    static func nchw(channels: Int, plane: Int) -> PlaneLayout { PlaneLayout(channelStride: plane, batchStride: channels * plane) }
    static func cnhw(batch: Int, plane: Int) -> PlaneLayout { PlaneLayout(channelStride: batch * plane, batchStride: plane) }
}

/// 2-D convolution with zero padding ("same" when padding = kernel/2 and stride 1) by im2col + sgemm.
/// Stride 1 has the contiguous-row fast path below; other strides are in `Conv2D+Strided.swift`.
/// Weight is PyTorch's (Cout, Cin, K, K); the column matrix is (Cin·K·K, B·H·W) with column
/// b·H·W + y·W + x, so out (Cout, B·H·W) = weight · col is CNHW.
enum Conv2D {
    /// Output size (floor mode, like PyTorch).
    static func outputSize(_ size: Int, kernel: Int, padding: Int, stride: Int = 1) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// col (Cin·K·K, B·Ho·Wo) ← patches of inp (planes per `layout`, H×W), zeros outside.
    static func im2col(
        col: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, layout: PlaneLayout,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int, stride: Int = 1
    ) {
        if stride != 1 {
            return stridedIm2col(col: col, inp: inp, layout: layout, batch: batch, channels: channels,
                                 height: height, width: width, kernel: kernel, padding: padding, stride: stride)
        }
        let ho = outputSize(height, kernel: kernel, padding: padding)
        let wo = outputSize(width, kernel: kernel, padding: padding)
        if ho == height && wo == width {
            return sameIm2col(col: col, inp: inp, layout: layout, batch: batch, channels: channels,
                              height: height, width: width, kernel: kernel, padding: padding)
        }
        let columns = batch * ho * wo
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = col + ((c * kernel + ky) * kernel + kx) * columns
                    // Output x range whose input x = x + kx − padding lies inside [0, width).
                    let x0 = min(wo, max(0, padding - kx))
                    let x1 = max(x0, min(wo, width + padding - kx))
                    for b in 0..<batch {
                        let plane = inp + c * layout.channelStride + b * layout.batchStride
                        for y in 0..<ho {
                            let dst = row + (b * ho + y) * wo
                            let iy = y + ky - padding
                            guard iy >= 0 && iy < height else {
                                dst.update(repeating: 0, count: wo)
                                continue
                            }
                            if x0 > 0 { dst.update(repeating: 0, count: x0) }
                            (dst + x0).update(from: plane + iy * width + (x0 + kx - padding), count: x1 - x0)
                            if x1 < wo { (dst + x1).update(repeating: 0, count: wo - x1) }
                        }
                    }
                }
            }
        }
    }

    /// im2col of a "same" stride-1 convolution (output plane = input plane, 2·padding = kernel − 1).
    /// Each (channel, sample) plane is first copied into the interior of a zero-bordered
    /// (H + 2p) × (W + 2p) scratch plane, whose border is zeroed once per call; then the row of
    /// col for kernel offset (ky, kx) is H rows of W floats read straight from the scratch at
    /// (y + ky, kx), one masked AVX-512 (or AVX2) move per image row (`VectorKernels.copyRows`):
    /// no branches for the padding and no per-row calls. (Copying the shifted plane in one memcpy
    /// and zeroing the wrapped columns afterwards cost a call per image row — a million small
    /// memsets per CNN step; SSE2 row copies from Swift were no faster.)
    static func sameIm2col(
        col: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, layout: PlaneLayout,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int
    ) {
        let plane = height * width, columns = batch * plane
        let paddedWidth = width + 2 * padding, paddedCount = (height + 2 * padding) * paddedWidth
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        defer { padded.deallocate() }
        padded.initialize(repeating: 0, count: paddedCount)
        let interior = padded + padding * paddedWidth + padding
        for c in 0..<channels {
            var b = 0
            while b < batch {
                let src = inp + c * layout.channelStride + b * layout.batchStride
                VectorKernels.copyRows(interior, dstStride: paddedWidth, src, srcStride: width, rows: height, count: width)
                var k = 0
                while k < kernel * kernel {
                    let ky = k / kernel, kx = k % kernel
                    VectorKernels.copyRows(col + (c * kernel * kernel + k) * columns + b * plane, dstStride: width,
                                           padded + ky * paddedWidth + kx, srcStride: paddedWidth, rows: height, count: width)
                    k += 1
                }
                b += 1
            }
        }
    }

    /// dInp (planes per `layout`) = (or += when `accumulate`) col2im(dCol) of a "same" stride-1
    /// convolution: the adjoint of `sameIm2col` through the same zero-bordered scratch plane.
    /// Per (channel, sample), the K² rows of dCol are added into the scratch at their offsets,
    /// then its interior is written out, so dInp needs no zeroing first.
    static func sameCol2im(
        dInp: UnsafeMutablePointer<Float>, layout: PlaneLayout, dCol: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int, accumulate: Bool
    ) {
        let plane = height * width, columns = batch * plane
        let paddedWidth = width + 2 * padding, paddedCount = (height + 2 * padding) * paddedWidth
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        defer { padded.deallocate() }
        let interior = UnsafePointer(padded + padding * paddedWidth + padding)
        for c in 0..<channels {
            var b = 0
            while b < batch {
                padded.initialize(repeating: 0, count: paddedCount)
                var k = 0
                while k < kernel * kernel {
                    let ky = k / kernel, kx = k % kernel
                    VectorKernels.addRows(padded + ky * paddedWidth + kx, dstStride: paddedWidth,
                                          dCol + (c * kernel * kernel + k) * columns + b * plane, srcStride: width,
                                          rows: height, count: width)
                    k += 1
                }
                let dst = dInp + c * layout.channelStride + b * layout.batchStride
                if accumulate {
                    VectorKernels.addRows(dst, dstStride: width, interior, srcStride: paddedWidth, rows: height, count: width)
                } else {
                    VectorKernels.copyRows(dst, dstStride: width, interior, srcStride: paddedWidth, rows: height, count: width)
                }
                b += 1
            }
        }
    }

    /// dInp (planes per `layout`) += col2im(dCol): the adjoint of `im2col`. Caller zeroes dInp.
    static func col2imAccumulate(
        dInp: UnsafeMutablePointer<Float>, layout: PlaneLayout,
        dCol: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int, stride: Int = 1
    ) {
        if stride != 1 {
            return stridedCol2imAccumulate(dInp: dInp, layout: layout, dCol: dCol, batch: batch, channels: channels,
                                           height: height, width: width, kernel: kernel, padding: padding, stride: stride)
        }
        let ho = outputSize(height, kernel: kernel, padding: padding)
        let wo = outputSize(width, kernel: kernel, padding: padding)
        let columns = batch * ho * wo
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = dCol + ((c * kernel + ky) * kernel + kx) * columns
                    let x0 = min(wo, max(0, padding - kx))
                    let x1 = max(x0, min(wo, width + padding - kx))
                    for b in 0..<batch {
                        let plane = dInp + c * layout.channelStride + b * layout.batchStride
                        for y in 0..<ho {
                            let iy = y + ky - padding
                            guard iy >= 0 && iy < height else { continue }
                            let src = row + (b * ho + y) * wo
                            let dst = plane + iy * width + (kx - padding)
                            for x in x0..<x1 { dst[x] += src[x] }
                        }
                    }
                }
            }
        }
    }

    /// flipped (Cin, Cout, K, K) ← weight (Cout, Cin, K, K) with each kernel rotated by 180°: the
    /// kernels of the convolution that maps a "same" stride-1 convolution's dOut to its dInp:
    /// dx[i][u][v] = Σ_{o,a,b} W[o][i][a][b]·dy[o][u − a + p][v − b + p]; with a' = K − 1 − a that is
    /// Σ W[o][i][K−1−a'][K−1−b']·dy[o][u + a' − (K−1−p)][…], a forward convolution with padding K − 1 − p.
    static func flipTransposed(weight: UnsafePointer<Float>, into flipped: UnsafeMutablePointer<Float>,
                               inChannels: Int, outChannels: Int, kernel: Int) {
        let area = kernel * kernel
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                let src = weight + (o * inChannels + i) * area, dst = flipped + (i * outChannels + o) * area
                for k in 0..<area { dst[k] = src[area - 1 - k] }
            }
        }
    }

    /// out (Cout, B·Ho·Wo) = weight (Cout, Cin·K·K) · col + bias; `col` must hold im2col(inp).
    /// The network runs the chunked forms (`Conv2D+Chunked.swift`); this batch-wide form and
    /// `backward` are what the layer gradient tests check im2col and col2im through.
    /// Without a bias (a convolution followed by a normalisation) the sgemm overwrites `out`.
    static func forward(
        out: UnsafeMutablePointer<Float>,
        col: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        columns: Int, patch: Int, outChannels: Int
    ) {
        if let bias {
            for c in 0..<outChannels { (out + c * columns).update(repeating: bias[c], count: columns) }
        }
        BLAS.sgemm(transA: false, transB: false, m: outChannels, n: columns, k: patch,
                   alpha: 1, a: weight, lda: patch, b: col, ldb: columns, beta: bias == nil ? 0 : 1, c: out, ldc: columns)
    }

    /// dCol (Cin·K·K, B·Ho·Wo) = weightᵀ · dOut (overwritten) when `dCol` is given; then
    /// sink.weight += scale · dOut · colᵀ and sink.bias += scale · row sums of dOut.
    /// The column gradient is computed first so a sink pointing at `weight` (folded SGD) is safe.
    static func backward(
        dCol: UnsafeMutablePointer<Float>?, sink: ParameterSink?,
        dOut: UnsafePointer<Float>, col: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        columns: Int, patch: Int, outChannels: Int
    ) {
        if let dCol {
            BLAS.sgemm(transA: true, transB: false, m: patch, n: columns, k: outChannels,
                       alpha: 1, a: weight, lda: patch, b: dOut, ldb: columns, beta: 0, c: dCol, ldc: columns)
        }
        guard let sink else { return }
        BLAS.sgemm(transA: false, transB: true, m: outChannels, n: patch, k: columns,
                   alpha: sink.scale, a: dOut, lda: columns, b: col, ldb: columns, beta: 1, c: sink.weight, ldc: patch)
        guard let bias = sink.bias else { return }
        for c in 0..<outChannels { bias[c] += sink.scale * fastSum(dOut + c * columns, columns) }
    }
}
