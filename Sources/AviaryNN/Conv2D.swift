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

    /// im2col of a "same" stride-1 convolution (output plane = input plane). For kernel offset
    /// (dy, dx) = (ky − p, kx − p), output element i = y·W + x of a sample's plane reads input element
    /// i + dy·W + dx, so all valid rows are one contiguous copy of the shifted plane; the copy
    /// wraps across row ends at the dx columns that fall outside the input, which are then zeroed.
    /// One copy per (row of col, sample) instead of one per image row (rows of 8–32 floats in a
    /// CIFAR ResNet, where call overhead dominated).
    static func sameIm2col(
        col: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, layout: PlaneLayout,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int
    ) {
        let plane = height * width, columns = batch * plane
        for c in 0..<channels {
            for ky in 0..<kernel {
                let dy = ky - padding
                // Output rows whose input row y + dy lies inside [0, height).
                let y0 = min(height, max(0, -dy)), y1 = max(y0, min(height, height - dy))
                for kx in 0..<kernel {
                    let dx = kx - padding
                    let row = col + ((c * kernel + ky) * kernel + kx) * columns
                    // Output elements [first, last) of the valid rows whose shifted source lies in the plane.
                    let shift = dy * width + dx
                    let first = min(plane, max(y0 * width, -shift)), last = max(0, min(y1 * width, plane - shift))
                    for b in 0..<batch {
                        let src = inp + c * layout.channelStride + b * layout.batchStride
                        let dst = row + b * plane
                        if first > 0 { dst.update(repeating: 0, count: first) }
                        if last > first { (dst + first).update(from: src + first + shift, count: last - first) }
                        if last < plane { (dst + last).update(repeating: 0, count: plane - last) }
                        // Columns whose input x + dx falls outside [0, width) picked up a neighbouring row.
                        if dx < 0 {
                            for y in y0..<y1 { for x in 0..<min(-dx, width) { dst[y * width + x] = 0 } }
                        } else if dx > 0 {
                            for y in y0..<y1 { for x in max(0, width - dx)..<width { dst[y * width + x] = 0 } }
                        }
                    }
                }
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
