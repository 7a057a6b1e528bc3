import COpenBLAS
import CVectorKernels

/// Strided row copies at the widest vector width the CPU runs (see CVectorKernels/shim.h): the
/// engine's im2col copies image rows of 7–32 floats, which baseline x86-64 code moves in several
/// pieces and a scalar tail.
public enum VectorKernels {
    /// 2 = AVX-512, 1 = AVX2, 0 = neither (or not x86): chosen once per process.
    public static let level: Int = {
        #if arch(x86_64)
        return Int(aviary_x86_vector_level())
        #else
        return 0
        #endif
    }()

    /// `rows` rows of `count` floats: dst[r·dstStride + x] = src[r·srcStride + x].
    @inlinable
    public static func copyRows(_ dst: UnsafeMutablePointer<Float>, dstStride: Int,
                                _ src: UnsafePointer<Float>, srcStride: Int, rows: Int, count: Int) {
        #if arch(x86_64)
        switch level {
        case 2: return aviary_copy_rows_avx512(dst, dstStride, src, srcStride, rows, count)
        case 1: return aviary_copy_rows_avx2(dst, dstStride, src, srcStride, rows, count)
        default: break
        }
        #endif
        var d = dst, s = src
        for _ in 0..<rows {
            d.update(from: s, count: count)
            d += dstStride
            s += srcStride
        }
    }

    /// `rows` rows of `count` floats: dst[r·dstStride + x] += src[r·srcStride + x]; rows must not overlap.
    @inlinable
    public static func addRows(_ dst: UnsafeMutablePointer<Float>, dstStride: Int,
                               _ src: UnsafePointer<Float>, srcStride: Int, rows: Int, count: Int) {
        #if arch(x86_64)
        switch level {
        case 2: return aviary_add_rows_avx512(dst, dstStride, src, srcStride, rows, count)
        case 1: return aviary_add_rows_avx2(dst, dstStride, src, srcStride, rows, count)
        default: break
        }
        #endif
        var d = dst, s = src
        for _ in 0..<rows {
            for x in 0..<count { d[x] += s[x] }
            d += dstStride
            s += srcStride
        }
    }
}
