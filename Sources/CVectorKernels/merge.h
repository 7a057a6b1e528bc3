// The server's weighted sum with norms (AviaryMerge's `WeightedSumKernel`), AVX2.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>

// MARK: Weighted sum with norms (AviaryMerge)
//
// The bounded weighted mean's one pass (`WeightedSumKernel.runWithSquaredNorms`, whose Swift
// loop is the definition this reproduces bit for bit). Swift compiles SIMD8<Float> for baseline
// x86-64 as pairs of 4-lane SSE operations and has no prefetch; one AVX2 register holds the
// eight lanes, so every lane does the same IEEE operations in the same order: no FMA
// (`fp contract(off)`), the same 8-lane partial sums, the same sequential sums of lanes and of
// the output's squares.

/// How far ahead (floats) the kernel below prefetches: 1 KiB, the best of 128–4096 for ten
/// 199k-float inputs from memory on the development machine (0.75 → 0.60 ms a merge).
#define AVIARY_MERGE_PREFETCH 256

/// For each block of `block` floats (a multiple of 8) of `count`, eight at a time:
/// y_i = x_i·p_i, acc_i += y_i·y_i (8 lanes per input, reset each block), o = w_0·y_0, then
/// o = o + w_i·y_i for i = 1 … n−1; out = o, and s = s + o_k·o_k for the lanes k = 0 … 7 in
/// order. At each block's end, totals_i += (double)(sequential sum of acc_i's lanes) plus the
/// block's last count mod 8 values' (double)y² in double; those values' outputs are the scalar
/// expression in the same order. Returns s. `acc` is scratch for 8·n floats; n ≥ 1.
///
/// With `g` non-null, also the server's SGD step on the output (`ServerOptimizer.applySGDStepIfFinite`,
/// bit for bit): next_j = (float)((double)g_j + lr·(double)o_j), one double multiply and add
/// (exact widening, one rounding), while o is in a register instead of in a second pass over
/// memory; `*bad` is set to 1 when some o_j or next_j is NaN or infinite (the step is then not
/// to be used), and left alone otherwise.
__attribute__((target("avx2")))
static inline float aviary_weighted_sum_norms_avx2(const float *const *x, const float *w, const float *p, long n,
                                                   long count, long block, float *out, double *totals, float *acc,
                                                   const float *g, double lr, float *next, int *bad) {
#pragma clang fp contract(off)
    const __m256d rate = _mm256_set1_pd(lr);
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    __m256i nonFinite = _mm256_setzero_si256();
    float s = 0.0f;
    for (long i = 0; i < n; i++) totals[i] = 0.0;
    for (long start = 0; start < count; start += block) {
        const long end = count < start + block ? count : start + block;
        for (long i = 0; i < 8 * n; i++) acc[i] = 0.0f;
        long j = start;
        for (; j + 8 <= end; j += 8) {
            // Software prefetch, a line per input every 16 floats, 1 KiB ahead into L2: the
            // deltas come from memory (they arrived earlier and the clients' training evicted
            // them), and the hardware prefetchers stop at each 4 KiB page. Prefetching past an
            // array's end never faults.
            const int fetch = (j & 15) == 0;
            if (fetch) _mm_prefetch((const char *)(x[0] + j + AVIARY_MERGE_PREFETCH), _MM_HINT_T1);
            __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x[0] + j), _mm256_set1_ps(p[0]));
            _mm256_storeu_ps(acc, _mm256_add_ps(_mm256_loadu_ps(acc), _mm256_mul_ps(y, y)));
            __m256 o = _mm256_mul_ps(_mm256_set1_ps(w[0]), y);
            for (long i = 1; i < n; i++) {
                if (fetch) _mm_prefetch((const char *)(x[i] + j + AVIARY_MERGE_PREFETCH), _MM_HINT_T1);
                const __m256 yi = _mm256_mul_ps(_mm256_loadu_ps(x[i] + j), _mm256_set1_ps(p[i]));
                _mm256_storeu_ps(acc + 8 * i, _mm256_add_ps(_mm256_loadu_ps(acc + 8 * i), _mm256_mul_ps(yi, yi)));
                o = _mm256_add_ps(o, _mm256_mul_ps(_mm256_set1_ps(w[i]), yi));
            }
            _mm256_storeu_ps(out + j, o);
            if (g) {
                const __m256 gj = _mm256_loadu_ps(g + j);
                const __m256d lo = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(gj)),
                                                 _mm256_mul_pd(rate, _mm256_cvtps_pd(_mm256_castps256_ps128(o))));
                const __m256d hi = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(gj, 1)),
                                                 _mm256_mul_pd(rate, _mm256_cvtps_pd(_mm256_extractf128_ps(o, 1))));
                const __m256 y = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
                _mm256_storeu_ps(next + j, y);
                // A value is NaN or infinite exactly when its exponent bits are all ones.
                const __m256i ob = _mm256_and_si256(_mm256_castps_si256(o), exponent);
                const __m256i yb = _mm256_and_si256(_mm256_castps_si256(y), exponent);
                nonFinite = _mm256_or_si256(nonFinite, _mm256_or_si256(_mm256_cmpeq_epi32(ob, exponent), _mm256_cmpeq_epi32(yb, exponent)));
            }
            const __m256 q = _mm256_mul_ps(o, o);
            const __m128 lo = _mm256_castps256_ps128(q), hi = _mm256_extractf128_ps(q, 1);
            s = s + _mm_cvtss_f32(lo);
            s = s + _mm_cvtss_f32(_mm_movehdup_ps(lo));
            s = s + _mm_cvtss_f32(_mm_movehl_ps(lo, lo));
            s = s + _mm_cvtss_f32(_mm_shuffle_ps(lo, lo, 3));
            s = s + _mm_cvtss_f32(hi);
            s = s + _mm_cvtss_f32(_mm_movehdup_ps(hi));
            s = s + _mm_cvtss_f32(_mm_movehl_ps(hi, hi));
            s = s + _mm_cvtss_f32(_mm_shuffle_ps(hi, hi, 3));
        }
        for (long i = 0; i < n; i++) {
            float lanes = acc[8 * i];
            for (int k = 1; k < 8; k++) lanes = lanes + acc[8 * i + k];
            double partial = (double)lanes;
            for (long t = j; t < end; t++) {
                const float y = x[i][t] * p[i];
                partial += (double)y * (double)y;
            }
            totals[i] += partial;
        }
        for (; j < end; j++) {
            float o = w[0] * (x[0][j] * p[0]);
            for (long i = 1; i < n; i++) o = o + w[i] * (x[i][j] * p[i]);
            out[j] = o;
            s = s + o * o;
            if (g) {
                const float y = (float)((double)g[j] + lr * (double)o);
                next[j] = y;
                if (!isfinite(o) || !isfinite(y)) *bad = 1;
            }
        }
    }
    if (g && !_mm256_testz_si256(nonFinite, nonFinite)) *bad = 1;
    return s;
}

#endif
