// The NN engine's im2col and col2im row copies and adds (AviaryMath's `VectorKernels.copyRows` /
// `addRows`): one AVX-512 or AVX2 masked move per image row of 7–32 floats.
#pragma once
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

#endif
