// Thin system-library module: OpenBLAS CBLAS (Debian libopenblas-dev). Linked as "openblas" because
// libblas.so.3 lacks openblas_set_num_threads.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

// A DYNAMIC_ARCH OpenBLAS picks its kernel set once, at load, from the CPU model. OpenBLAS 0.3.21
// (Debian 12) does not know newer Intel models (e.g. family 6 model 0xCF, a Xeon with AVX-512)
// and silently falls back to Prescott's SSE3 kernels, 2–4× slower at sgemm. These two internals
// (exported by DYNAMIC_ARCH builds; weak, so other builds still link) let a process pick again
// before its first BLAS call, as OPENBLAS_CORETYPE would have at load.
extern void *gotoblas __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));

/// 2 when AVX-512 (F, DQ, BW, VL) is usable (CPU and OS), 1 when AVX2 and FMA are, else 0.
static inline int aviary_x86_vector_level(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;  // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1)
        && (lo & 0xE0) == 0xE0;  // opmask and ZMM state
    return avx512 ? 2 : (avx2 && fma ? 1 : 0);
#else
    return 0;
#endif
}

/// Makes a DYNAMIC_ARCH OpenBLAS load the kernel set `name` (e.g. "SkylakeX") as if
/// OPENBLAS_CORETYPE had named it at start-up; the environment is left as it was. Returns 0
/// (nothing done) for a build without the internals. Call only while no BLAS call is running.
static inline int aviary_openblas_select_core(const char *name) {
    if (&gotoblas == NULL || gotoblas_dynamic_init == NULL) return 0;
    const char *previous = getenv("OPENBLAS_CORETYPE");
    char *saved = previous ? strdup(previous) : NULL;
    setenv("OPENBLAS_CORETYPE", name, 1);
    gotoblas = NULL;  // gotoblas_dynamic_init returns at once when a kernel set is loaded
    gotoblas_dynamic_init();
    if (saved) { setenv("OPENBLAS_CORETYPE", saved, 1); free(saved); } else { unsetenv("OPENBLAS_CORETYPE"); }
    return 1;
}
