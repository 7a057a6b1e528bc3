// The NN engine's direct convolutions (AviaryNN's `Conv2D+Direct.swift` through AviaryMath's
// `VectorKernels`): "same" convolutions on zero-bordered planes, 3 × 3 ones on unpadded rows, and
// the 3 × 3 weight gradient, AVX-512 only.
#pragma once
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>

// MARK: Direct "same" convolution
//
// A stride-1 convolution with an odd K × K kernel and padding (K − 1)/2 ("same"), computed
// directly instead of im2col + sgemm: for 16–64 channels OpenBLAS spends as long packing the
// column matrix (written by im2col just before) as it does in its kernel. Per sample, each input
// channel's plane is copied into a zero-bordered plane of width Wp = W + p (p = (K − 1)/2: p zero
// columns left of each row, which are also the previous row's right border, plus p zero rows
// above and below); an output pixel (y, x) is then Σ_{i, ky, kx} w[o][i][ky][kx] ·
// pad[i][(y + ky)·Wp + x + kx], so output index q = y·Wp + x runs over one contiguous range of
// R = (H − 1)·Wp + W positions, 16 to a vector (positions with x ≥ W are computed and dropped: the
// CNN's 14-wide conv2 takes 14 vectors a plane; with separate left and right borders, Wp = W + K − 1,
// it took 16 for the same bits). 3 × 3 kernels on 4- to 32-wide planes take the unpadded-row
// kernel below instead.
// A tile is 4 output channels × up to 6 vectors (24 accumulators); per input channel and kernel
// offset it loads 6 shifted input vectors and broadcasts 4 weights. The sums run over i, then ky,
// then kx, in that order, so results do not depend on the tiling.

/// Floats of scratch `aviary_conv_same_padded_avx512` needs.
static inline long aviary_conv_same_padded_scratch(long cin, long cout, long h, long w, long k) {
    const long wp = w + (k - 1) / 2;
    const long plane = ((h + k - 1) * wp + (k - 1) / 2 + 16 + 15) & ~15L;  // reads run up to p + 15 floats past the padded plane
    const long vectors = ((h - 1) * wp + w + 15) / 16;
    return cin * plane + cout * vectors * 16;
}

/// One tile: tmp[j·tmpStride + 16·v + l] = Σ_{i, ky, kx} w[j·cin·k² + i·k² + ky·k + kx] ·
/// pad[i·padStride + 16·v + l + ky·wp + kx] (+ init[j]) for j < 4, v < V. Written out per V with
/// named accumulators: an array of vectors indexed in a loop stayed on the stack.
#define AVIARY_CONV_ACC(v) __m512 a0##v = i0, a1##v = i1, a2##v = i2, a3##v = i3;
#define AVIARY_CONV_FMA(v) { const __m512 x = _mm512_loadu_ps(src + 16 * v); \
    a0##v = _mm512_fmadd_ps(w0, x, a0##v); a1##v = _mm512_fmadd_ps(w1, x, a1##v); \
    a2##v = _mm512_fmadd_ps(w2, x, a2##v); a3##v = _mm512_fmadd_ps(w3, x, a3##v); }
#define AVIARY_CONV_STORE(v) _mm512_storeu_ps(tmp + 16 * v, a0##v); _mm512_storeu_ps(tmp + tmpStride + 16 * v, a1##v); \
    _mm512_storeu_ps(tmp + 2 * tmpStride + 16 * v, a2##v); _mm512_storeu_ps(tmp + 3 * tmpStride + 16 * v, a3##v);
#define AVIARY_CONV_TILE(V, EACH) \
    __attribute__((target("avx512f"))) static void aviary_conv_tile_avx512_##V( \
        float *tmp, long tmpStride, const float *pad, long padStride, const float *w, const float *init, \
        long cin, long k, long wp) { \
        const __m512 i0 = init ? _mm512_set1_ps(init[0]) : _mm512_setzero_ps(); \
        const __m512 i1 = init ? _mm512_set1_ps(init[1]) : _mm512_setzero_ps(); \
        const __m512 i2 = init ? _mm512_set1_ps(init[2]) : _mm512_setzero_ps(); \
        const __m512 i3 = init ? _mm512_set1_ps(init[3]) : _mm512_setzero_ps(); \
        EACH(AVIARY_CONV_ACC) \
        const long area = k * k, wstride = cin * area; \
        for (long i = 0; i < cin; i++) { \
            const float *p = pad + i * padStride, *wi = w + i * area; \
            for (long ky = 0; ky < k; ky++) { \
                for (long kx = 0; kx < k; kx++) { \
                    const float *src = p + ky * wp + kx; \
                    const long kk = ky * k + kx; \
                    const __m512 w0 = _mm512_set1_ps(wi[kk]), w1 = _mm512_set1_ps(wi[wstride + kk]); \
                    const __m512 w2 = _mm512_set1_ps(wi[2 * wstride + kk]), w3 = _mm512_set1_ps(wi[3 * wstride + kk]); \
                    EACH(AVIARY_CONV_FMA) \
                } \
            } \
        } \
        EACH(AVIARY_CONV_STORE) \
    }
#define AVIARY_EACH1(M) M(0)
#define AVIARY_EACH2(M) M(0) M(1)
#define AVIARY_EACH3(M) M(0) M(1) M(2)
#define AVIARY_EACH4(M) M(0) M(1) M(2) M(3)
#define AVIARY_EACH5(M) M(0) M(1) M(2) M(3) M(4)
#define AVIARY_EACH6(M) M(0) M(1) M(2) M(3) M(4) M(5)
AVIARY_CONV_TILE(1, AVIARY_EACH1)
AVIARY_CONV_TILE(2, AVIARY_EACH2)
AVIARY_CONV_TILE(3, AVIARY_EACH3)
AVIARY_CONV_TILE(4, AVIARY_EACH4)
AVIARY_CONV_TILE(5, AVIARY_EACH5)
AVIARY_CONV_TILE(6, AVIARY_EACH6)

/// out[o] (planes at o·outChannelStride + b·outBatchStride, H × W) = (out +) bias[o] + Σ_i w[o][i] ⋆ in[i]
/// for a "same" stride-1 convolution on zero-bordered planes: weights (cout, cin, k, k), k odd, cout
/// a multiple of 4, input planes at i·inChannelStride + b·inBatchStride. `bias` may be NULL; with
/// `accumulate` the result is added to `out`. `scratch` holds `aviary_conv_same_padded_scratch` floats.
__attribute__((target("avx512f")))
static inline void aviary_conv_same_padded_avx512(float *out, long outChannelStride, long outBatchStride,
                                                  const float *in, long inChannelStride, long inBatchStride,
                                                  const float *weight, const float *bias, long batch, long cin, long cout,
                                                  long h, long w, long k, int accumulate, float *scratch) {
    const long p = (k - 1) / 2, wp = w + p;
    const long plane = ((h + k - 1) * wp + p + 16 + 15) & ~15L;
    const long vectors = ((h - 1) * wp + w + 15) / 16, tmpStride = vectors * 16;
    float *pad = scratch, *tmp = scratch + cin * plane;
    // Borders (and the slack past each plane) stay zero: only interiors are written below.
    for (long i = 0; i < cin * plane; i++) pad[i] = 0;
    for (long b = 0; b < batch; b++) {
        for (long i = 0; i < cin; i++)
            aviary_copy_rows_avx512(pad + i * plane + p * wp + p, wp, in + i * inChannelStride + b * inBatchStride, w, h, w);
        for (long v0 = 0; v0 < vectors; v0 += 6) {
            const long n = vectors - v0 < 6 ? vectors - v0 : 6;
            for (long o = 0; o < cout; o += 4) {
                float *t = tmp + o * tmpStride + 16 * v0;
                const float *s = pad + 16 * v0, *wo = weight + o * cin * k * k, *init = bias ? bias + o : 0;
                switch (n) {
                case 6: aviary_conv_tile_avx512_6(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                case 5: aviary_conv_tile_avx512_5(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                case 4: aviary_conv_tile_avx512_4(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                case 3: aviary_conv_tile_avx512_3(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                case 2: aviary_conv_tile_avx512_2(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                default: aviary_conv_tile_avx512_1(t, tmpStride, s, plane, wo, init, cin, k, wp); break;
                }
            }
        }
        for (long o = 0; o < cout; o++) {
            float *dst = out + o * outChannelStride + b * outBatchStride;
            if (accumulate) aviary_add_rows_avx512(dst, w, tmp + o * tmpStride, wp, h, w);
            else aviary_copy_rows_avx512(dst, w, tmp + o * tmpStride, wp, h, w);
        }
    }
}

// MARK: Direct 3 × 3 "same" convolution on unpadded rows
//
// For K = 3 and widths 4, 8, 16 or 32 (ResNet's 32/16/8-pixel planes) the padded plane's dropped
// positions (2 of every W + 2, plus the last vector's rounding: 68, 18 and 5 vectors where 64, 16
// and 4 suffice) are avoided: each input plane is copied with one zero row above and below but no
// zero columns, so output q = y·W + x reads in[q + ky·W + kx − 1] and the whole plane is h·W/16
// full vectors. The reads of kx = 0 at x = 0 and of kx = 2 at x = W − 1 land in the neighbouring
// row and are zeroed by load masks instead; because 16 is a multiple of W or W of 16 (W ≤ 32),
// a vector's masks depend only on its parity, so four mask registers hold them all. Each lane sees
// the padded kernel's operands (the same products, zeros where it read zero padding) in the same
// order over i, ky, kx, so the results are `aviary_conv_same_padded_avx512`'s bit for bit; tiles
// store straight into `out` (no staging plane and copy-out).

/// Whether the unpadded-row kernel takes a 3 × 3 convolution of width w.
static inline int aviary_conv3_rows_fits(long h, long w) { return (w == 4 || w == 8 || w == 16 || w == 32) && (h * w) % 16 == 0; }

/// Floats per input channel: 16 of front slack (the first read, kx = 0 at q = 0, is at −1; row −1
/// then starts 64-byte aligned), h + 2 rows, and the one float kx = 2 reads past the last row.
static inline long aviary_conv3_rows_plane(long h, long w) { return (16 + (h + 2) * w + 1 + 15) & ~15L; }

#define AVIARY_C3_ACC(v) __m512 a0##v = i0, a1##v = i1, a2##v = i2, a3##v = i3;
#define AVIARY_C3_FMA(v, off, LOAD) { const __m512 x = LOAD(v, src + off + 16 * v); \
    a0##v = _mm512_fmadd_ps(w0, x, a0##v); a1##v = _mm512_fmadd_ps(w1, x, a1##v); \
    a2##v = _mm512_fmadd_ps(w2, x, a2##v); a3##v = _mm512_fmadd_ps(w3, x, a3##v); }
#define AVIARY_C3_LEFT(v, ptr) _mm512_maskz_loadu_ps((v) & 1 ? left1 : left0, ptr)
#define AVIARY_C3_MID(v, ptr) _mm512_loadu_ps(ptr)
#define AVIARY_C3_RIGHT(v, ptr) _mm512_maskz_loadu_ps((v) & 1 ? right1 : right0, ptr)
#define AVIARY_C3_F0(v) AVIARY_C3_FMA(v, -1, AVIARY_C3_LEFT)
#define AVIARY_C3_F1(v) AVIARY_C3_FMA(v, 0, AVIARY_C3_MID)
#define AVIARY_C3_F2(v) AVIARY_C3_FMA(v, 1, AVIARY_C3_RIGHT)
#define AVIARY_C3_W(kk) w0 = _mm512_set1_ps(wi[kk]); w1 = _mm512_set1_ps(wi[wstride + kk]); \
    w2 = _mm512_set1_ps(wi[2 * wstride + kk]); w3 = _mm512_set1_ps(wi[3 * wstride + kk]);
// out (+)= the accumulator: the padded kernel's copy-out, or its add (out + tmp), done in the register.
#define AVIARY_C3_PUT(dst, acc) { if (accumulate) acc = _mm512_add_ps(_mm512_loadu_ps(dst), acc); _mm512_storeu_ps(dst, acc); }
#define AVIARY_C3_STORE(v) AVIARY_C3_PUT(out + 16 * v, a0##v) AVIARY_C3_PUT(out + outStride + 16 * v, a1##v) \
    AVIARY_C3_PUT(out + 2 * outStride + 16 * v, a2##v) AVIARY_C3_PUT(out + 3 * outStride + 16 * v, a3##v)
/// One tile: 4 output channels (planes at out + j·outStride) × V vectors; vector v of the tile
/// takes masks left0/right0 when v is even, left1/right1 when odd.
#define AVIARY_C3_TILE(V, EACH) \
    __attribute__((target("avx512f"))) static void aviary_conv3_rows_tile_avx512_##V( \
        float *out, long outStride, const float *planes, long planeStride, const float *w, const float *init, \
        long cin, long width, int accumulate, __mmask16 left0, __mmask16 left1, __mmask16 right0, __mmask16 right1) { \
        const __m512 i0 = init ? _mm512_set1_ps(init[0]) : _mm512_setzero_ps(); \
        const __m512 i1 = init ? _mm512_set1_ps(init[1]) : _mm512_setzero_ps(); \
        const __m512 i2 = init ? _mm512_set1_ps(init[2]) : _mm512_setzero_ps(); \
        const __m512 i3 = init ? _mm512_set1_ps(init[3]) : _mm512_setzero_ps(); \
        EACH(AVIARY_C3_ACC) \
        const long wstride = cin * 9; \
        for (long i = 0; i < cin; i++) { \
            const float *c = planes + i * planeStride, *wi = w + i * 9; \
            for (long ky = 0; ky < 3; ky++) { \
                const float *src = c + ky * width; \
                __m512 w0, w1, w2, w3; \
                AVIARY_C3_W(ky * 3) EACH(AVIARY_C3_F0) \
                AVIARY_C3_W(ky * 3 + 1) EACH(AVIARY_C3_F1) \
                AVIARY_C3_W(ky * 3 + 2) EACH(AVIARY_C3_F2) \
            } \
        } \
        EACH(AVIARY_C3_STORE) \
    }
AVIARY_C3_TILE(1, AVIARY_EACH1)
AVIARY_C3_TILE(2, AVIARY_EACH2)
AVIARY_C3_TILE(3, AVIARY_EACH3)
AVIARY_C3_TILE(4, AVIARY_EACH4)
AVIARY_C3_TILE(5, AVIARY_EACH5)
AVIARY_C3_TILE(6, AVIARY_EACH6)

/// Lanes of a vector of parity `parity` whose x + dx lies in [0, w) (w divides 16 or 16 divides w, w ≤ 32).
static inline __mmask16 aviary_conv3_rows_mask(long w, long parity, long dx) {
    unsigned m = 0;
    for (long l = 0; l < 16; l++) {
        const long x = (16 * parity + l) % w;
        if (x + dx >= 0 && x + dx < w) m |= 1u << l;
    }
    return (__mmask16)m;
}

/// `aviary_conv_same_avx512` for k = 3 when `aviary_conv3_rows_fits(h, w)`.
__attribute__((target("avx512f")))
static inline void aviary_conv3_same_rows_avx512(float *out, long outChannelStride, long outBatchStride,
                                                 const float *in, long inChannelStride, long inBatchStride,
                                                 const float *weight, const float *bias, long batch, long cin, long cout,
                                                 long h, long w, int accumulate, float *scratch) {
    const long vectors = h * w / 16, stride = aviary_conv3_rows_plane(h, w);
    const __mmask16 l0 = aviary_conv3_rows_mask(w, 0, -1), l1 = aviary_conv3_rows_mask(w, 1, -1);
    const __mmask16 r0 = aviary_conv3_rows_mask(w, 0, 1), r1 = aviary_conv3_rows_mask(w, 1, 1);
    // The zero rows and slack stay zero: only the h·w interiors are written below.
    for (long q = 0; q < cin * stride; q++) scratch[q] = 0;
    for (long b = 0; b < batch; b++) {
        for (long i = 0; i < cin; i++)
            aviary_copy_rows_avx512(scratch + i * stride + 16 + w, 0, in + i * inChannelStride + b * inBatchStride, 0, 1, h * w);
        // Tiles of at most 6 vectors, as even as possible (16 = 6 + 5 + 5, not 6 + 6 + 4: a narrow
        // tile loads as many weights per FMA as a wide one). An odd start swaps the parity masks.
        const long tiles = (vectors + 5) / 6;
        for (long t0 = 0, v0 = 0; t0 < tiles; t0++) {
            const long n = (vectors - v0) / (tiles - t0) + ((vectors - v0) % (tiles - t0) != 0);
            const __mmask16 a0 = v0 & 1 ? l1 : l0, a1 = v0 & 1 ? l0 : l1, c0 = v0 & 1 ? r1 : r0, c1 = v0 & 1 ? r0 : r1;
            for (long o = 0; o < cout; o += 4) {
                float *t = out + o * outChannelStride + b * outBatchStride + 16 * v0;
                const float *s = scratch + 16 + 16 * v0, *wo = weight + o * cin * 9, *init = bias ? bias + o : 0;
                switch (n) {
                case 6: aviary_conv3_rows_tile_avx512_6(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                case 5: aviary_conv3_rows_tile_avx512_5(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                case 4: aviary_conv3_rows_tile_avx512_4(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                case 3: aviary_conv3_rows_tile_avx512_3(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                case 2: aviary_conv3_rows_tile_avx512_2(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                default: aviary_conv3_rows_tile_avx512_1(t, outChannelStride, s, stride, wo, init, cin, w, accumulate, a0, a1, c0, c1); break;
                }
            }
            v0 += n;
        }
    }
}

/// Floats of scratch `aviary_conv_same_avx512` needs (either kernel's).
static inline long aviary_conv_same_scratch(long cin, long cout, long h, long w, long k) {
    const long padded = aviary_conv_same_padded_scratch(cin, cout, h, w, k);
    const long rows = cin * aviary_conv3_rows_plane(h, w);
    return padded > rows ? padded : rows;
}

/// The direct "same" convolution: the unpadded-row kernel where it fits (k = 3, w ∈ {4, 8, 16, 32})
/// unless `paddedRows` asks for the zero-bordered one (tests compare the two bit for bit).
__attribute__((target("avx512f")))
static inline void aviary_conv_same_avx512(float *out, long outChannelStride, long outBatchStride,
                                           const float *in, long inChannelStride, long inBatchStride,
                                           const float *weight, const float *bias, long batch, long cin, long cout,
                                           long h, long w, long k, int accumulate, int paddedRows, float *scratch) {
    if (k == 3 && !paddedRows && aviary_conv3_rows_fits(h, w))
        aviary_conv3_same_rows_avx512(out, outChannelStride, outBatchStride, in, inChannelStride, inBatchStride,
                                      weight, bias, batch, cin, cout, h, w, accumulate, scratch);
    else
        aviary_conv_same_padded_avx512(out, outChannelStride, outBatchStride, in, inChannelStride, inBatchStride,
                                       weight, bias, batch, cin, cout, h, w, k, accumulate, scratch);
}

/// Samples per chunk of `aviary_conv3_same_weight_gradient_avx512`: its padded inputs and dOut
/// planes (about 1 MB) stay in L2 while every (output pair, input channel) pass reads them.
static inline long aviary_conv3_weight_chunk(long cin, long cout, long h, long w) {
    const long wp = w + 2, plane = ((h + 2) * wp + 16 + 15) & ~15L, vectors = ((h - 1) * wp + w + 15) / 16;
    const long perSample = cin * plane + cout * vectors * 16;
    const long n = (1L << 18) / perSample;
    return n < 1 ? 1 : n;
}

/// Floats of scratch `aviary_conv3_same_weight_gradient_avx512` needs for a batch of `batch`.
static inline long aviary_conv3_weight_scratch(long cin, long cout, long h, long w, long batch) {
    const long wp = w + 2, plane = ((h + 2) * wp + 16 + 15) & ~15L, vectors = ((h - 1) * wp + w + 15) / 16;
    long chunk = aviary_conv3_weight_chunk(cin, cout, h, w);
    if (chunk > batch) chunk = batch;
    return chunk * (cin * plane + cout * vectors * 16);
}

__attribute__((target("avx512f")))
static inline float aviary_hsum_avx512(__m512 v) { return _mm512_reduce_add_ps(v); }

/// One tile of the 3 × 3 weight gradient: for j < N output channels (dOut planes at dg + j·gstride,
/// sample s at + s·tstride) and one input channel (padded planes at pad + s·plane), the 9 sums
/// Σ_s Σ_q dOut[j][s][q] · pad[s][q + ky·wp + kx] in 9·N vector accumulators (per-lane partials over
/// s, then q), lanes summed in a fixed order and added, times `scale`, to dw + j·wstride. N = 3 keeps
/// 27 accumulators, 3 dOut vectors and 1 input vector in the 32 zmm registers: each of the 9 shifted
/// (mostly cache-line-splitting) input loads feeds 3 FMAs; with N = 2 it fed 2 and the loads bound
/// the loop. The accumulation order of every (o, i) sum does not depend on N.
#define AVIARY_WG_ACC(j) __m512 a##j##0 = _mm512_setzero_ps(), a##j##1 = a##j##0, a##j##2 = a##j##0, a##j##3 = a##j##0, \
    a##j##4 = a##j##0, a##j##5 = a##j##0, a##j##6 = a##j##0, a##j##7 = a##j##0, a##j##8 = a##j##0;
#define AVIARY_WG_G(j) const __m512 g##j = _mm512_loadu_ps(d + j * gstride + v);
#define AVIARY_WG_F0(j) a##j##0 = _mm512_fmadd_ps(g##j, x, a##j##0);
#define AVIARY_WG_F1(j) a##j##1 = _mm512_fmadd_ps(g##j, x, a##j##1);
#define AVIARY_WG_F2(j) a##j##2 = _mm512_fmadd_ps(g##j, x, a##j##2);
#define AVIARY_WG_F3(j) a##j##3 = _mm512_fmadd_ps(g##j, x, a##j##3);
#define AVIARY_WG_F4(j) a##j##4 = _mm512_fmadd_ps(g##j, x, a##j##4);
#define AVIARY_WG_F5(j) a##j##5 = _mm512_fmadd_ps(g##j, x, a##j##5);
#define AVIARY_WG_F6(j) a##j##6 = _mm512_fmadd_ps(g##j, x, a##j##6);
#define AVIARY_WG_F7(j) a##j##7 = _mm512_fmadd_ps(g##j, x, a##j##7);
#define AVIARY_WG_F8(j) a##j##8 = _mm512_fmadd_ps(g##j, x, a##j##8);
#define AVIARY_WG_ADD(j) { float *wj = dw + j * wstride; \
    wj[0] += scale * aviary_hsum_avx512(a##j##0); wj[1] += scale * aviary_hsum_avx512(a##j##1); wj[2] += scale * aviary_hsum_avx512(a##j##2); \
    wj[3] += scale * aviary_hsum_avx512(a##j##3); wj[4] += scale * aviary_hsum_avx512(a##j##4); wj[5] += scale * aviary_hsum_avx512(a##j##5); \
    wj[6] += scale * aviary_hsum_avx512(a##j##6); wj[7] += scale * aviary_hsum_avx512(a##j##7); wj[8] += scale * aviary_hsum_avx512(a##j##8); }
#define AVIARY_WG_TILE(N, EACH) \
    __attribute__((target("avx512f"))) static void aviary_conv3_weight_tile_avx512_##N( \
        float *dw, long wstride, float scale, const float *dg, long gstride, const float *pad, long plane, \
        long n, long tstride, long wp) { \
        EACH(AVIARY_WG_ACC) \
        for (long s = 0; s < n; s++) { \
            const float *d = dg + s * tstride, *p = pad + s * plane; \
            for (long v = 0; v < tstride; v += 16) { \
                EACH(AVIARY_WG_G) \
                const float *r0 = p + v, *r1 = r0 + wp, *r2 = r1 + wp; \
                __m512 x; \
                x = _mm512_loadu_ps(r0);     EACH(AVIARY_WG_F0) \
                x = _mm512_loadu_ps(r0 + 1); EACH(AVIARY_WG_F1) \
                x = _mm512_loadu_ps(r0 + 2); EACH(AVIARY_WG_F2) \
                x = _mm512_loadu_ps(r1);     EACH(AVIARY_WG_F3) \
                x = _mm512_loadu_ps(r1 + 1); EACH(AVIARY_WG_F4) \
                x = _mm512_loadu_ps(r1 + 2); EACH(AVIARY_WG_F5) \
                x = _mm512_loadu_ps(r2);     EACH(AVIARY_WG_F6) \
                x = _mm512_loadu_ps(r2 + 1); EACH(AVIARY_WG_F7) \
                x = _mm512_loadu_ps(r2 + 2); EACH(AVIARY_WG_F8) \
            } \
        } \
        EACH(AVIARY_WG_ADD) \
    }
AVIARY_WG_TILE(1, AVIARY_EACH1)
AVIARY_WG_TILE(2, AVIARY_EACH2)
AVIARY_WG_TILE(3, AVIARY_EACH3)


/// dW[o][i][ky][kx] += scale · Σ_b Σ_{y,x} dOut[o][b][y][x] · in[i][b][y + ky − 1][x + kx − 1] (zero outside)
/// for a "same" stride-1 3 × 3 convolution, any cout. Per chunk of samples the input planes are
/// zero-bordered as in the forward pass and each dOut plane is laid out at the padded width with
/// zeros in the extra columns, so the sums run over whole vectors; each (tile of up to 3 output
/// channels, input channel) keeps its 9 sums per channel in registers across the chunk, then adds
/// them (lanes summed in a fixed order) to dW: the order of every sum is fixed by the shape alone.
__attribute__((target("avx512f")))
static inline void aviary_conv3_same_weight_gradient_avx512(float *dw, float scale,
                                                            const float *dout, long outChannelStride, long outBatchStride,
                                                            const float *in, long inChannelStride, long inBatchStride,
                                                            long batch, long cin, long cout, long h, long w, float *scratch) {
    const long wp = w + 2, plane = ((h + 2) * wp + 16 + 15) & ~15L, vectors = ((h - 1) * wp + w + 15) / 16;
    const long tstride = vectors * 16;
    long chunk = aviary_conv3_weight_chunk(cin, cout, h, w);
    if (chunk > batch) chunk = batch;
    float *pad = scratch, *dg = scratch + chunk * cin * plane;
    // Zeroed once: the copies below write only plane interiors, so borders, the gaps between dOut
    // rows and the tails stay zero for every chunk (zeroing the ~1 MB per chunk cost as much as
    // the copies). A last, shorter chunk reads only its first n samples.
    for (long q = 0; q < chunk * (cin * plane + cout * tstride); q++) scratch[q] = 0;
    for (long b0 = 0; b0 < batch; b0 += chunk) {
        const long n = batch - b0 < chunk ? batch - b0 : chunk;
        for (long s = 0; s < n; s++) {
            for (long i = 0; i < cin; i++)
                aviary_copy_rows_avx512(pad + (i * chunk + s) * plane + wp + 1, wp,
                                        in + i * inChannelStride + (b0 + s) * inBatchStride, w, h, w);
            for (long o = 0; o < cout; o++)
                aviary_copy_rows_avx512(dg + (o * chunk + s) * tstride, wp,
                                        dout + o * outChannelStride + (b0 + s) * outBatchStride, w, h, w);
        }
        for (long o = 0; o < cout; o += 3) {
            const long m = cout - o < 3 ? cout - o : 3;
            for (long i = 0; i < cin; i++) {
                float *dwo = dw + (o * cin + i) * 9;
                const float *g = dg + o * chunk * tstride, *p = pad + i * chunk * plane;
                switch (m) {
                case 3: aviary_conv3_weight_tile_avx512_3(dwo, cin * 9, scale, g, chunk * tstride, p, plane, n, tstride, wp); break;
                case 2: aviary_conv3_weight_tile_avx512_2(dwo, cin * 9, scale, g, chunk * tstride, p, plane, n, tstride, wp); break;
                default: aviary_conv3_weight_tile_avx512_1(dwo, cin * 9, scale, g, chunk * tstride, p, plane, n, tstride, wp); break;
                }
            }
        }
    }
}

#endif
