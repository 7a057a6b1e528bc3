// Secure aggregation's kernels: stochastic rounding into the ring (AviarySecAgg's
// `FixedPointQuantiser`), the eight xoshiro256** lanes that draw for it (AviaryMath's
// `RandomLanes`) and mask addition in Z_2^b (AviarySecAgg's `MaskExpansion`).
#pragma once
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>

// Secure aggregation's stochastic rounding of a weighted, clipped f32 delta into {0, …, levels}
// (FixedPointQuantiser.quantiseWeighted, whose scalar loop is the definition these reproduce bit
// for bit): for i < n, with v = weight·min(max((double)x[i], −c), c),
//   s = (min(max(v, −c), c) + c)·scale,   f = trunc(s),   u = (double)(draws[i] >> 11)·2^−53,
//   out[i] = min(f + (u < s − f ? 1 : 0), levels).
// Every step is one IEEE double operation in the scalar loop's order (no contraction into FMA:
// `fp contract(off)`), and each conversion is exact (x is a float; draws >> 11 < 2^53; s ≥ 0 and
// f ≤ levels < 2^31), so the integers are the scalar loop's. Both kernels also return whether
// some x[i] was not finite (its magnitude bits ≥ 0x7f800000, i.e. adding 0x00800000 to them sets
// bit 31), so the caller needs no separate pass over x to check it: through the max and min an
// infinity becomes ±c and a NaN −c (max takes its second operand when one is NaN), so nothing
// traps, and the caller throws the integers away.

/// AVX-512 (F; DQ for 64-bit integer → double; VL for the 256-bit masked load and store), 8
/// coordinates a step, a masked tail. aviary_x86_vector_level() == 2 guarantees all three.
__attribute__((target("avx512f,avx512dq,avx512vl")))
static inline int aviary_round_weighted_avx512(uint32_t *out, const float *x, const uint64_t *draws, long n,
                                               double weight, double c, double scale, double levels) {
#pragma clang fp contract(off)
    const __m512d vw = _mm512_set1_pd(weight), vc = _mm512_set1_pd(c), vnc = _mm512_set1_pd(-c);
    const __m512d vs = _mm512_set1_pd(scale), vl = _mm512_set1_pd(levels);
    const __m512d one = _mm512_set1_pd(1.0), unit = _mm512_set1_pd(0x1.0p-53);
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), smallestInf = _mm256_set1_epi32(0x00800000);
    __m256i flags = _mm256_setzero_si256();
    for (long i = 0; i < n; i += 8) {
        const long left = n - i;
        const __mmask8 m = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
        const __m256i bits = _mm256_maskz_loadu_epi32(m, x + i);
        flags = _mm256_or_si256(flags, _mm256_add_epi32(_mm256_and_si256(bits, magnitude), smallestInf));
        __m512d v = _mm512_cvtps_pd(_mm256_castsi256_ps(bits));
        v = _mm512_mul_pd(vw, _mm512_min_pd(_mm512_max_pd(v, vnc), vc));
        __m512d s = _mm512_mul_pd(_mm512_add_pd(_mm512_min_pd(_mm512_max_pd(v, vnc), vc), vc), vs);
        __m512d f = _mm512_roundscale_pd(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m512i k = _mm512_srli_epi64(_mm512_maskz_loadu_epi64(m, draws + i), 11);
        __m512d u = _mm512_mul_pd(_mm512_cvtepi64_pd(k), unit);
        __mmask8 up = _mm512_cmp_pd_mask(u, _mm512_sub_pd(s, f), _CMP_LT_OQ);
        __m512d q = _mm512_min_pd(_mm512_mask_add_pd(f, up, f, one), vl);
        _mm256_mask_storeu_epi32(out + i, m, _mm512_cvttpd_epi32(q));
    }
    return _mm256_movemask_ps(_mm256_castsi256_ps(flags)) != 0;
}

/// The same with AVX2, 4 coordinates a step: (double)(draws >> 11) from its high 21 and low 32
/// bits through the 2^52 exponent trick (each half exact, their sum < 2^53 exact too); a scalar
/// tail for the last n mod 4.
__attribute__((target("avx2")))
static inline int aviary_round_weighted_avx2(uint32_t *out, const float *x, const uint64_t *draws, long n,
                                             double weight, double c, double scale, double levels) {
#pragma clang fp contract(off)
    const __m256d vw = _mm256_set1_pd(weight), vc = _mm256_set1_pd(c), vnc = _mm256_set1_pd(-c);
    const __m256d vs = _mm256_set1_pd(scale), vl = _mm256_set1_pd(levels);
    const __m256d one = _mm256_set1_pd(1.0), unit = _mm256_set1_pd(0x1.0p-53);
    const __m256d two52 = _mm256_set1_pd(0x1.0p52), two32 = _mm256_set1_pd(0x1.0p32);
    const __m256i exp52 = _mm256_set1_epi64x(0x4330000000000000LL), low32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
    const __m128i magnitude = _mm_set1_epi32(0x7fffffff), smallestInf = _mm_set1_epi32(0x00800000);
    __m128i flags = _mm_setzero_si128();
    uint32_t tailFlags = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m128i bits = _mm_loadu_si128((const __m128i *)(x + i));
        flags = _mm_or_si128(flags, _mm_add_epi32(_mm_and_si128(bits, magnitude), smallestInf));
        __m256d v = _mm256_cvtps_pd(_mm_castsi128_ps(bits));
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
        uint32_t b;
        __builtin_memcpy(&b, x + i, 4);
        tailFlags |= (b & 0x7fffffffu) + 0x00800000u;
        double v = weight * __builtin_fmin(__builtin_fmax((double)x[i], -c), c);
        double s = (__builtin_fmin(__builtin_fmax(v, -c), c) + c) * scale;
        double f = __builtin_trunc(s);
        double u = (double)(int64_t)(draws[i] >> 11) * 0x1.0p-53;
        double q = f + (u < s - f ? 1.0 : 0.0);
        out[i] = (uint32_t)(q < levels ? q : levels);
    }
    return _mm_movemask_ps(_mm_castsi128_ps(flags)) != 0 || (tailFlags >> 31) != 0;
}

// Eight xoshiro256** streams side by side (AviaryMath's `RandomLanes`, whose scalar loop is the
// definition these reproduce bit for bit): `state` holds s0 of lanes 0…7, then s1, s2, s3 (32
// words); each group writes one output per lane, out[8g + l] = lane l's next output, and steps
// every lane. A single stream's steps depend on each other (a few cycles each); eight
// independent ones fill a vector register per step. Only shifts, adds, XORs and rotations:
// x·5 = x + (x << 2), x·9 = x + (x << 3), both mod 2^64.

/// AVX-512 (F), one register per state word.
__attribute__((target("avx512f")))
static inline void aviary_xoshiro_lanes_avx512(uint64_t *state, uint64_t *out, long groups) {
    __m512i s0 = _mm512_loadu_si512(state), s1 = _mm512_loadu_si512(state + 8);
    __m512i s2 = _mm512_loadu_si512(state + 16), s3 = _mm512_loadu_si512(state + 24);
    for (long g = 0; g < groups; g++) {
        const __m512i x5 = _mm512_add_epi64(s1, _mm512_slli_epi64(s1, 2));
        const __m512i r = _mm512_rol_epi64(x5, 7);
        _mm512_storeu_si512(out + 8 * g, _mm512_add_epi64(r, _mm512_slli_epi64(r, 3)));
        const __m512i t = _mm512_slli_epi64(s1, 17);
        s2 = _mm512_xor_si512(s2, s0); s3 = _mm512_xor_si512(s3, s1);
        s1 = _mm512_xor_si512(s1, s2); s0 = _mm512_xor_si512(s0, s3);
        s2 = _mm512_xor_si512(s2, t);
        s3 = _mm512_rol_epi64(s3, 45);
    }
    _mm512_storeu_si512(state, s0); _mm512_storeu_si512(state + 8, s1);
    _mm512_storeu_si512(state + 16, s2); _mm512_storeu_si512(state + 24, s3);
}

/// The same with AVX2: lanes 0…3 and 4…7 in two registers per state word, rotations as two
/// shifts and an OR.
#define AVIARY_ROTL_AVX2(x, k) _mm256_or_si256(_mm256_slli_epi64((x), (k)), _mm256_srli_epi64((x), 64 - (k)))
__attribute__((target("avx2")))
static inline void aviary_xoshiro_lanes_avx2(uint64_t *state, uint64_t *out, long groups) {
    for (int h = 0; h < 2; h++) {
        __m256i s0 = _mm256_loadu_si256((const __m256i *)(state + 4 * h)), s1 = _mm256_loadu_si256((const __m256i *)(state + 8 + 4 * h));
        __m256i s2 = _mm256_loadu_si256((const __m256i *)(state + 16 + 4 * h)), s3 = _mm256_loadu_si256((const __m256i *)(state + 24 + 4 * h));
        for (long g = 0; g < groups; g++) {
            const __m256i x5 = _mm256_add_epi64(s1, _mm256_slli_epi64(s1, 2));
            const __m256i r = AVIARY_ROTL_AVX2(x5, 7);
            _mm256_storeu_si256((__m256i *)(out + 8 * g + 4 * h), _mm256_add_epi64(r, _mm256_slli_epi64(r, 3)));
            const __m256i t = _mm256_slli_epi64(s1, 17);
            s2 = _mm256_xor_si256(s2, s0); s3 = _mm256_xor_si256(s3, s1);
            s1 = _mm256_xor_si256(s1, s2); s0 = _mm256_xor_si256(s0, s3);
            s2 = _mm256_xor_si256(s2, t);
            s3 = AVIARY_ROTL_AVX2(s3, 45);
        }
        _mm256_storeu_si256((__m256i *)(state + 4 * h), s0); _mm256_storeu_si256((__m256i *)(state + 8 + 4 * h), s1);
        _mm256_storeu_si256((__m256i *)(state + 16 + 4 * h), s2); _mm256_storeu_si256((__m256i *)(state + 24 + 4 * h), s3);
    }
}
#undef AVIARY_ROTL_AVX2

// Secure aggregation's mask addition in Z_2^b (MaskExpansion.add): out[j] = (out[j] ± w[j]) & mask
// for j < n, w[j] the j-th little-endian u32 of `words` (any alignment: a keystream buffer).

/// AVX-512 (F), 16 words a step, a masked tail.
__attribute__((target("avx512f")))
static inline void aviary_ring_add_u32_avx512(uint32_t *out, const void *words, long n, int subtract, uint32_t mask) {
    const __m512i m = _mm512_set1_epi32((int)mask);
    const uint32_t *w = (const uint32_t *)words;
    for (long j = 0; j < n; j += 16) {
        const long left = n - j;
        const __mmask16 t = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __m512i o = _mm512_maskz_loadu_epi32(t, out + j), k = _mm512_maskz_loadu_epi32(t, w + j);
        __m512i r = subtract ? _mm512_sub_epi32(o, k) : _mm512_add_epi32(o, k);
        _mm512_mask_storeu_epi32(out + j, t, _mm512_and_si512(r, m));
    }
}

/// The same with AVX2, 8 words a step, a scalar tail.
__attribute__((target("avx2")))
static inline void aviary_ring_add_u32_avx2(uint32_t *out, const void *words, long n, int subtract, uint32_t mask) {
    const __m256i m = _mm256_set1_epi32((int)mask);
    const unsigned char *w = (const unsigned char *)words;
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i o = _mm256_loadu_si256((const __m256i *)(out + j)), k = _mm256_loadu_si256((const __m256i *)(w + 4 * j));
        __m256i r = subtract ? _mm256_sub_epi32(o, k) : _mm256_add_epi32(o, k);
        _mm256_storeu_si256((__m256i *)(out + j), _mm256_and_si256(r, m));
    }
    for (; j < n; j++) {
        uint32_t k;
        __builtin_memcpy(&k, w + 4 * j, 4);
        out[j] = (subtract ? out[j] - k : out[j] + k) & mask;
    }
}

#endif
