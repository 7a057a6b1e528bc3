// Header-only kernels: the NN engine's im2col row copies (AviaryMath's `VectorKernels`) and
// secure aggregation's stochastic rounding (AviarySecAgg's `FixedPointQuantiser`). Swift
// compiles for baseline x86-64 (SSE2), where an image row of 7–32 floats takes several moves and a
// scalar tail; these functions carry their own target attributes, so one AVX-512 or AVX2 masked
// move copies a row. The caller picks the variant the CPU runs (aviary_x86_vector_level in
// COpenBLAS's shim); nothing here checks.
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>

/// rows × n floats: dst[r·dstStride + x] = src[r·srcStride + x], with AVX-512 (F) masked moves.
__attribute__((target("avx512f")))
static inline void aviary_copy_rows_avx512(float *dst, long dstStride, const float *src, long srcStride, long rows, long n) {
    const long full = n & ~15L;
    const __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1u);
    for (long r = 0; r < rows; r++) {
        long x = 0;
        for (; x < full; x += 16) _mm512_storeu_ps(dst + x, _mm512_loadu_ps(src + x));
        if (tail) _mm512_mask_storeu_ps(dst + x, tail, _mm512_maskz_loadu_ps(tail, src + x));
        dst += dstStride;
        src += srcStride;
    }
}

/// rows × n floats: dst[r·dstStride + x] += src[r·srcStride + x] (AVX-512 F); rows must not overlap.
__attribute__((target("avx512f")))
static inline void aviary_add_rows_avx512(float *dst, long dstStride, const float *src, long srcStride, long rows, long n) {
    const long full = n & ~15L;
    const __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1u);
    for (long r = 0; r < rows; r++) {
        long x = 0;
        for (; x < full; x += 16) _mm512_storeu_ps(dst + x, _mm512_add_ps(_mm512_loadu_ps(dst + x), _mm512_loadu_ps(src + x)));
        if (tail) {
            __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(tail, dst + x), _mm512_maskz_loadu_ps(tail, src + x));
            _mm512_mask_storeu_ps(dst + x, tail, sum);
        }
        dst += dstStride;
        src += srcStride;
    }
}

/// The same with AVX2 (maskload/maskstore for the last n mod 8 floats).
__attribute__((target("avx2")))
static inline void aviary_add_rows_avx2(float *dst, long dstStride, const float *src, long srcStride, long rows, long n) {
    const long full = n & ~7L;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n & 7)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (long r = 0; r < rows; r++) {
        long x = 0;
        for (; x < full; x += 8) _mm256_storeu_ps(dst + x, _mm256_add_ps(_mm256_loadu_ps(dst + x), _mm256_loadu_ps(src + x)));
        if (n & 7) _mm256_maskstore_ps(dst + x, tail, _mm256_add_ps(_mm256_maskload_ps(dst + x, tail), _mm256_maskload_ps(src + x, tail)));
        dst += dstStride;
        src += srcStride;
    }
}

/// The row copy with AVX2 (maskload/maskstore for the last n mod 8 floats).
__attribute__((target("avx2")))
static inline void aviary_copy_rows_avx2(float *dst, long dstStride, const float *src, long srcStride, long rows, long n) {
    const long full = n & ~7L;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n & 7)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (long r = 0; r < rows; r++) {
        long x = 0;
        for (; x < full; x += 8) _mm256_storeu_ps(dst + x, _mm256_loadu_ps(src + x));
        if (n & 7) _mm256_maskstore_ps(dst + x, tail, _mm256_maskload_ps(src + x, tail));
        dst += dstStride;
        src += srcStride;
    }
}

// Secure aggregation's stochastic rounding of a weighted, clipped f32 delta into {0, …, levels}
// (FixedPointQuantiser.quantiseWeighted, whose scalar loop is the definition these reproduce bit
// for bit): for i < n, with v = weight·min(max((double)x[i], −c), c),
//   s = (min(max(v, −c), c) + c)·scale,   f = trunc(s),   u = (double)(draws[i] >> 11)·2^−53,
//   out[i] = min(f + (u < s − f ? 1 : 0), levels).
// Every step is one IEEE double operation in the scalar loop's order (no contraction into FMA:
// `fp contract(off)`), and each conversion is exact (x is a float; draws >> 11 < 2^53; s ≥ 0 and
// f ≤ levels < 2^31), so the integers are the scalar loop's. x must be finite (the caller checks).

/// AVX-512 (F; DQ for 64-bit integer → double; VL for the 256-bit masked load and store), 8
/// coordinates a step, a masked tail. aviary_x86_vector_level() == 2 guarantees all three.
__attribute__((target("avx512f,avx512dq,avx512vl")))
static inline void aviary_round_weighted_avx512(uint32_t *out, const float *x, const uint64_t *draws, long n,
                                                double weight, double c, double scale, double levels) {
#pragma clang fp contract(off)
    const __m512d vw = _mm512_set1_pd(weight), vc = _mm512_set1_pd(c), vnc = _mm512_set1_pd(-c);
    const __m512d vs = _mm512_set1_pd(scale), vl = _mm512_set1_pd(levels);
    const __m512d one = _mm512_set1_pd(1.0), unit = _mm512_set1_pd(0x1.0p-53);
    for (long i = 0; i < n; i += 8) {
        const long left = n - i;
        const __mmask8 m = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
        __m512d v = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_maskz_loadu_epi32(m, x + i)));
        v = _mm512_mul_pd(vw, _mm512_min_pd(_mm512_max_pd(v, vnc), vc));
        __m512d s = _mm512_mul_pd(_mm512_add_pd(_mm512_min_pd(_mm512_max_pd(v, vnc), vc), vc), vs);
        __m512d f = _mm512_roundscale_pd(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m512i k = _mm512_srli_epi64(_mm512_maskz_loadu_epi64(m, draws + i), 11);
        __m512d u = _mm512_mul_pd(_mm512_cvtepi64_pd(k), unit);
        __mmask8 up = _mm512_cmp_pd_mask(u, _mm512_sub_pd(s, f), _CMP_LT_OQ);
        __m512d q = _mm512_min_pd(_mm512_mask_add_pd(f, up, f, one), vl);
        _mm256_mask_storeu_epi32(out + i, m, _mm512_cvttpd_epi32(q));
    }
}

/// The same with AVX2, 4 coordinates a step: (double)(draws >> 11) from its high 21 and low 32
/// bits through the 2^52 exponent trick (each half exact, their sum < 2^53 exact too); a scalar
/// tail for the last n mod 4.
__attribute__((target("avx2")))
static inline void aviary_round_weighted_avx2(uint32_t *out, const float *x, const uint64_t *draws, long n,
                                              double weight, double c, double scale, double levels) {
#pragma clang fp contract(off)
    const __m256d vw = _mm256_set1_pd(weight), vc = _mm256_set1_pd(c), vnc = _mm256_set1_pd(-c);
    const __m256d vs = _mm256_set1_pd(scale), vl = _mm256_set1_pd(levels);
    const __m256d one = _mm256_set1_pd(1.0), unit = _mm256_set1_pd(0x1.0p-53);
    const __m256d two52 = _mm256_set1_pd(0x1.0p52), two32 = _mm256_set1_pd(0x1.0p32);
    const __m256i exp52 = _mm256_set1_epi64x(0x4330000000000000LL), low32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        v = _mm256_mul_pd(vw, _mm256_min_pd(_mm256_max_pd(v, vnc), vc));
        __m256d s = _mm256_mul_pd(_mm256_add_pd(_mm256_min_pd(_mm256_max_pd(v, vnc), vc), vc), vs);
        __m256d f = _mm256_round_pd(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256i k = _mm256_srli_epi64(_mm256_loadu_si256((const __m256i *)(draws + i)), 11);
        __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(k, 32), exp52)), two52);
        __m256d lo = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(k, low32), exp52)), two52);
        __m256d u = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(hi, two32), lo), unit);
        __m256d up = _mm256_and_pd(_mm256_cmp_pd(u, _mm256_sub_pd(s, f), _CMP_LT_OQ), one);
        __m256d q = _mm256_min_pd(_mm256_add_pd(f, up), vl);
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvttpd_epi32(q));
    }
    for (; i < n; i++) {
        double v = weight * __builtin_fmin(__builtin_fmax((double)x[i], -c), c);
        double s = (__builtin_fmin(__builtin_fmax(v, -c), c) + c) * scale;
        double f = __builtin_trunc(s);
        double u = (double)(int64_t)(draws[i] >> 11) * 0x1.0p-53;
        double q = f + (u < s - f ? 1.0 : 0.0);
        out[i] = (uint32_t)(q < levels ? q : levels);
    }
}
#endif
