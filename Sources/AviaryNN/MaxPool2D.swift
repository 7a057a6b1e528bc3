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
        let ho = height / size, wo = width / size
        guard size == 2 else {
            forward(out: out, argmax: argmax, inp: inp, planes: planes, height: height, width: width, size: size)
            // ReLU commutes with max, so it runs on the pooled output: size² times fewer values than
            // the conv output a separate ReLU layer would pass over.
            for i in 0..<(planes * ho * wo) where !(out[i] > 0) { out[i] = 0 }
            return
        }
        // 2×2 windows, four at a time: the even and odd lanes of two rows' eight floats are the
        // windows' four corners. The generic loop above mispredicts its comparisons on every
        // window; here they are lane masks. The comparisons run in `forward`'s order from −∞ (the
        // first strict maximum wins; NaN never wins), so values and argmax equal its.
        let lanes = SIMD4<Int32>(0, 2, 4, 6)
        for p in 0..<planes {
            let src = inp + p * height * width, dst = out + p * ho * wo
            let indices = argmax.map { $0 + p * ho * wo }
            for y in 0..<ho {
                let r0 = UnsafeRawPointer(src + 2 * y * width), r1 = UnsafeRawPointer(src + (2 * y + 1) * width)
                var x = 0
                while x + 4 <= wo {
                    let top = r0.loadUnaligned(fromByteOffset: 8 * x, as: SIMD8<Float>.self)
                    let bottom = r1.loadUnaligned(fromByteOffset: 8 * x, as: SIMD8<Float>.self)
                    var best = SIMD4<Float>(repeating: -.infinity), offset = SIMD4<Int32>(repeating: 0)
                    best.replace(with: top.evenHalf, where: top.evenHalf .> best)
                    var m = top.oddHalf .> best
                    best.replace(with: top.oddHalf, where: m); offset.replace(with: 1, where: m)
                    m = bottom.evenHalf .> best
                    best.replace(with: bottom.evenHalf, where: m); offset.replace(with: Int32(width), where: m)
                    m = bottom.oddHalf .> best
                    best.replace(with: bottom.oddHalf, where: m); offset.replace(with: Int32(width + 1), where: m)
                    best.replace(with: 0, where: .!(best .> 0))
                    UnsafeMutableRawPointer(dst + y * wo + x).storeBytes(of: best, as: SIMD4<Float>.self)
                    if let indices {
                        let at = SIMD4<Int32>(repeating: Int32(2 * y * width + 2 * x)) &+ lanes &+ offset
                        UnsafeMutableRawPointer(indices + y * wo + x).storeBytes(of: at, as: SIMD4<Int32>.self)
                    }
                    x += 4
                }
                while x < wo {
                    let i0 = 2 * y * width + 2 * x
                    var best = -Float.infinity, at = i0
                    if src[i0] > best { best = src[i0] }
                    if src[i0 + 1] > best { best = src[i0 + 1]; at = i0 + 1 }
                    if src[i0 + width] > best { best = src[i0 + width]; at = i0 + width }
                    if src[i0 + width + 1] > best { best = src[i0 + width + 1]; at = i0 + width + 1 }
                    dst[y * wo + x] = best > 0 ? best : 0
                    indices?[y * wo + x] = Int32(at)
                    x += 1
                }
            }
        }
    }

    /// Backward of `rectifiedForward`: dInp (planes, H, W) = dOut at each window's argmax where the
    /// pooled output `out` is positive, zeros elsewhere (overwritten, one plane at a time so the
    /// zeroing and the scatter hit the same cached plane). When `biasGradient` is given (the
    /// preceding convolution's; planes are CNHW, so plane p is channel p / `batch`),
    /// biasGradient[channel] += scale · the plane's routed gradient sum, which is the sum of dInp
    /// over the plane: what the convolution's own bias gradient would sum, from a quarter of the values.
    static func rectifiedBackward(
        dInp: UnsafeMutablePointer<Float>,
        dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        biasGradient: UnsafeMutablePointer<Float>? = nil, scale: Float = 1, batch: Int = 1,
        planes: Int, height: Int, width: Int, size: Int
    ) {
        let ho = height / size, wo = width / size
        for p in 0..<planes {
            let dst = dInp + p * height * width
            let base = p * ho * wo
            dst.update(repeating: 0, count: height * width)
            for i in 0..<(ho * wo) where out[base + i] > 0 { dst[Int(argmax[base + i])] = dOut[base + i] }
            guard let biasGradient else { continue }
            // Σ of the routed gradient, eight lanes wide (a scalar float sum is one long dependency chain).
            let o = UnsafeRawPointer(out + base), g = UnsafeRawPointer(dOut + base)
            var lanes = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= ho * wo {
                let v = o.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                var d = g.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                d.replace(with: 0, where: .!(v .> 0))
                lanes += d
                i += 8
            }
            var sum = lanes.sum()
            while i < ho * wo { if out[base + i] > 0 { sum += dOut[base + i] }; i += 1 }
            biasGradient[p / batch] += scale * sum
        }
    }
}
