/// Non-overlapping max-pooling (window = stride = `size`, floor mode like PyTorch) over
/// independent H×W planes; it does not care whether planes are ordered NCHW or CNHW.
enum MaxPool2D {
    /// out (planes, H/s, W/s) = max over each s×s window of inp (planes, H, W); when `argmax`
    /// is given it records, per output, the winning offset inside the input plane (first max wins).
    static func forward(
        out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
        inp: UnsafePointer<Float>,
        planes: Int, height: Int, width: Int, size: Int
    ) {
        let ho = height / size, wo = width / size
        for p in 0..<planes {
            let src = inp + p * height * width
            let dst = out + p * ho * wo
            for y in 0..<ho {
                for x in 0..<wo {
                    var best = -Float.infinity
                    var bestIndex = (y * size) * width + x * size
                    for dy in 0..<size {
                        let rowIndex = (y * size + dy) * width + x * size
                        for dx in 0..<size where src[rowIndex + dx] > best {
                            best = src[rowIndex + dx]
                            bestIndex = rowIndex + dx
                        }
                    }
                    dst[y * wo + x] = best
                    argmax?[p * ho * wo + y * wo + x] = Int32(bestIndex)
                }
            }
        }
    }

    /// dInp (planes, H, W) = dOut routed to each window's argmax, zeros elsewhere (overwritten).
    static func backward(
        dInp: UnsafeMutablePointer<Float>,
        dOut: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        planes: Int, height: Int, width: Int, size: Int
    ) {
        let ho = height / size, wo = width / size
        dInp.update(repeating: 0, count: planes * height * width)
        for p in 0..<planes {
            let dst = dInp + p * height * width
            let base = p * ho * wo
            for i in 0..<(ho * wo) { dst[Int(argmax[base + i])] += dOut[base + i] }
        }
    }

    /// ReLU then max-pooling as one layer (the CNN's conv → ReLU → pool): out = max(0, window max of
    /// inp), argmax = the window's first maximum of the pre-activation `inp`, which stays
    /// un-rectified. Values equal ReLU-then-pool's; where a window's maximum is ≤ 0 the output is
    /// 0 and `rectifiedBackward` routes no gradient, as ReLU's backward would.
    static func rectifiedForward(
        out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
        inp: UnsafePointer<Float>,
        planes: Int, height: Int, width: Int, size: Int
    ) {
        forward(out: out, argmax: argmax, inp: inp, planes: planes, height: height, width: width, size: size)
        // ReLU commutes with max, so it runs on the pooled output: size² times fewer values than
        // the conv output a separate ReLU layer would pass over.
        for i in 0..<(planes * (height / size) * (width / size)) where !(out[i] > 0) { out[i] = 0 }
    }

    /// Backward of `rectifiedForward`: dInp (planes, H, W) = dOut at each window's argmax where the
    /// pooled output `out` is positive, zeros elsewhere (overwritten, one plane at a time so the
    /// zeroing and the scatter hit the same cached plane).
    static func rectifiedBackward(
        dInp: UnsafeMutablePointer<Float>,
        dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        planes: Int, height: Int, width: Int, size: Int
    ) {
        let ho = height / size, wo = width / size
        for p in 0..<planes {
            let dst = dInp + p * height * width
            dst.update(repeating: 0, count: height * width)
            let base = p * ho * wo
            for i in 0..<(ho * wo) where out[base + i] > 0 { dst[Int(argmax[base + i])] = dOut[base + i] }
        }
    }
}
