import COpenBLAS
import CVectorKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strided row copies at the widest vector width the CPU runs (see CVectorKernels/rows.h): the
/// engine's im2col copies image rows of 7–32 floats, which baseline x86-64 code moves in several
/// pieces and a scalar tail.
public enum VectorKernels {
    /// 2 = AVX-512, 1 = AVX2, 0 = neither (or not x86): chosen once per process, from the CPU
    /// and a pinned OpenBLAS kernel set (`pinnedLevel`).
    public static let level: Int = {
        #if arch(x86_64)
        let cpu = Int(aviary_x86_vector_level())
        #else
        let cpu = 0
        #endif
        return pinnedLevel(cpu: cpu, pinnedCoreType: getenv(BLAS.coreTypeVariable).map { String(cString: $0) })
    }()

    /// OpenBLAS kernel sets that use AVX-512.
    static let avx512CoreTypes: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// The level to run at on a CPU of level `cpu` when OPENBLAS_CORETYPE is `pinnedCoreType`.
    /// A user pins the kernel set so that machines compute the same bits (`[processes]
    /// blas_coretype`); the direct convolutions below exist in AVX-512 only and sum in another
    /// order than im2col + sgemm, so a pin to a set without AVX-512 (e.g. "Haswell") keeps the
    /// engine at AVX2 too, and an AVX-512 machine then computes what an AVX2 machine under the
    /// same pin does. The copy, add and rounding kernels give the same bits at every level.
    public static func pinnedLevel(cpu: Int, pinnedCoreType: String?) -> Int {
        guard let pin = pinnedCoreType?.lowercased(), !pin.isEmpty,
              cpu == 2, !avx512CoreTypes.contains(pin) else { return cpu }
        return 1
    }

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

    /// Whether `sameConvolution` runs here (it has an AVX-512 form only; other CPUs, and a pin to
    /// a kernel set without AVX-512, take the engine's im2col + sgemm path).
    public static var hasDirectConvolution: Bool { level == 2 }

    /// Floats of scratch `sameConvolution` needs.
    public static func sameConvolutionScratch(inChannels: Int, outChannels: Int, height: Int, width: Int, kernel: Int) -> Int {
        aviary_conv_same_scratch(inChannels, outChannels, height, width, kernel)
    }

    /// out[o] (= or +=) bias[o] + Σ_i weight[o][i] ⋆ inp[i], a "same" stride-1 convolution computed
    /// directly (CVectorKernels/convolution.h). Planes sit at channel·channelStride + sample·batchStride;
    /// weight is (outChannels, inChannels, kernel, kernel) with an odd kernel, outChannels a multiple
    /// of 4. 3×3 kernels on 4-, 8-, 16- or 32-wide planes run on unpadded rows; `paddedRows` forces
    /// the zero-bordered kernel there too (the two agree bit for bit; tests compare them).
    /// Only when `hasDirectConvolution`.
    public static func sameConvolution(
        out: UnsafeMutablePointer<Float>, outChannelStride: Int, outBatchStride: Int,
        inp: UnsafePointer<Float>, inChannelStride: Int, inBatchStride: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int, inChannels: Int, outChannels: Int,
        height: Int, width: Int, kernel: Int, accumulate: Bool, paddedRows: Bool = false, scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(hasDirectConvolution && outChannels % 4 == 0 && kernel % 2 == 1,
                     "sameConvolution: needs AVX-512, outChannels % 4 == 0 and an odd kernel")
        #if arch(x86_64)
        aviary_conv_same_avx512(out, outChannelStride, outBatchStride, inp, inChannelStride, inBatchStride,
                                weight, bias, batch, inChannels, outChannels, height, width, kernel, accumulate ? 1 : 0,
                                paddedRows ? 1 : 0, scratch)
        #endif
    }

    /// Floats of scratch `sameConvolution3WeightGradient` needs for `batch` samples.
    public static func sameConvolution3WeightGradientScratch(inChannels: Int, outChannels: Int, height: Int, width: Int, batch: Int) -> Int {
        aviary_conv3_weight_scratch(inChannels, outChannels, height, width, batch)
    }

    /// weightGradient (outChannels, inChannels, 3, 3) += scale · Σ over samples and pixels of
    /// dOut[o] · inp[i] shifted by each kernel offset: a "same" stride-1 3×3 convolution's weight
    /// gradient, computed directly (CVectorKernels/convolution.h). Planes sit at channel·channelStride +
    /// sample·batchStride; any outChannels (tiles of 3, then 2 or 1). Only when `hasDirectConvolution`.
    public static func sameConvolution3WeightGradient(
        weightGradient: UnsafeMutablePointer<Float>, scale: Float,
        dOut: UnsafePointer<Float>, outChannelStride: Int, outBatchStride: Int,
        inp: UnsafePointer<Float>, inChannelStride: Int, inBatchStride: Int,
        batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(hasDirectConvolution, "sameConvolution3WeightGradient: needs AVX-512")
        #if arch(x86_64)
        aviary_conv3_same_weight_gradient_avx512(weightGradient, scale, dOut, outChannelStride, outBatchStride,
                                                 inp, inChannelStride, inBatchStride, batch, inChannels, outChannels,
                                                 height, width, scratch)
        #endif
    }
}
