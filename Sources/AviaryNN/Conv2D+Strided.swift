/// im2col and its adjoint for strides above 1 (ResNet's downsampling convolutions). Kept apart
/// from the stride-1 path, whose rows are contiguous copies; here every output x reads input
/// x·stride + kx − padding, so rows are gathered element by element.
extension Conv2D {
    /// The output x range [x0, x1) whose input column x·stride + k − padding lies in [0, size).
    @inline(__always)
    static func validRange(kernelOffset k: Int, padding: Int, stride: Int, size: Int, outputs: Int) -> (Int, Int) {
        // x·s + k − p ≥ 0  ⇔  x ≥ ⌈(p − k)/s⌉;  x·s + k − p < size  ⇔  x < ⌈(size + p − k)/s⌉.
        func ceilDiv(_ a: Int, _ b: Int) -> Int { a <= 0 ? -((-a) / b) : (a + b - 1) / b }
        let x0 = min(outputs, max(0, ceilDiv(padding - k, stride)))
        let x1 = max(x0, min(outputs, ceilDiv(size + padding - k, stride)))
        return (x0, x1)
    }

    static func stridedIm2col(
        col: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, layout: PlaneLayout,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int, stride: Int
    ) {
        let ho = outputSize(height, kernel: kernel, padding: padding, stride: stride)
        let wo = outputSize(width, kernel: kernel, padding: padding, stride: stride)
        let columns = batch * ho * wo
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = col + ((c * kernel + ky) * kernel + kx) * columns
                    let (x0, x1) = validRange(kernelOffset: kx, padding: padding, stride: stride, size: width, outputs: wo)
                    for b in 0..<batch {
                        let plane = inp + c * layout.channelStride + b * layout.batchStride
                        for y in 0..<ho {
                            let dst = row + (b * ho + y) * wo
                            let iy = y * stride + ky - padding
                            guard iy >= 0 && iy < height else {
                                dst.update(repeating: 0, count: wo)
                                continue
                            }
                            let src = plane + iy * width + kx - padding
                            for x in 0..<x0 { dst[x] = 0 }
                            for x in x0..<x1 { dst[x] = src[x * stride] }
                            for x in x1..<wo { dst[x] = 0 }
                        }
                    }
                }
            }
        }
    }

    static func stridedCol2imAccumulate(
        dInp: UnsafeMutablePointer<Float>, layout: PlaneLayout,
        dCol: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width: Int, kernel: Int, padding: Int, stride: Int
    ) {
        let ho = outputSize(height, kernel: kernel, padding: padding, stride: stride)
        let wo = outputSize(width, kernel: kernel, padding: padding, stride: stride)
        let columns = batch * ho * wo
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = dCol + ((c * kernel + ky) * kernel + kx) * columns
                    let (x0, x1) = validRange(kernelOffset: kx, padding: padding, stride: stride, size: width, outputs: wo)
                    for b in 0..<batch {
                        let plane = dInp + c * layout.channelStride + b * layout.batchStride
                        for y in 0..<ho {
                            let iy = y * stride + ky - padding
                            guard iy >= 0 && iy < height else { continue }
                            let src = row + (b * ho + y) * wo
                            let dst = plane + iy * width + kx - padding
                            for x in x0..<x1 { dst[x * stride] += src[x] }
                        }
                    }
                }
            }
        }
    }
}
