/* Code-domain CA-CFAR loops of straja._cfar (CodeCFAR, kind CA): plain element-wise C loops that
   the compiler vectorises for the baseline (SSE2 on x86-64, NEON on aarch64). On x86-64 with gcc
   or clang, long blocks take the AVX2 loops of _code_ca_avx2.h where the CPU has AVX2 (checked at
   run time: the module stays portable, no build needs -march=native): the compare, and the sums
   of windows of up to 8 codes; the same decisions, bit for bit. (On the AMD EPYC this project ran
   on before, a Zen 1 doing 256 bits as two halves, AVX2 builds of the plain loops were 0.9-0.97x
   the baseline's; on its Zen 3 the SAD sums make the kernel 1.4x at 4096 bins: docs/benchmarks.md.) */
#ifndef STRAJA_CODE_CA_H
#define STRAJA_CODE_CA_H

#include <stddef.h>

#include "_double_sums.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAJA_CODE_CA_HAS_AVX2 1
#include "_code_ca_avx2.h"
#endif

/* Blocks of fewer uncut cells take the plain C compare even where AVX2 runs: the AVX2 one was
   0.9x the baseline's at 64-256 bins in the module, paired (2026-12-06), 1.01-1.05x at 1024-4096. */
#define STRAJA_CODE_CA_AVX2_MIN_CELLS 512

#ifdef STRAJA_CODE_CA_HAS_AVX2
/* The AVX2 compare runs when this is 1: set at the first call from the CPU's features, or by
   straja_code_ca_use_avx2 (the tests run both compares). */
static int straja_code_ca_avx2 = -1;

static int
straja_code_ca_avx2_on(void)
{
    if (straja_code_ca_avx2 < 0)
        straja_code_ca_avx2 = __builtin_cpu_supports("avx2") != 0;
    return straja_code_ca_avx2;
}
#endif

/* straja_code_plain_sums and straja_code_double_sums (_double_sums.h): the sums fit 16 bits for
   t <= 128 (MAX_CODE_TRAIN). */
STRAJA_DEFINE_WINDOW_SUMS(straja_code, unsigned char, unsigned short)

/* Window sums s[j] = sum(x[j:j+t]) for j <= n - t, in w, a or b (returned). With AVX2, sums of
   up to 8 codes straight from the codes (straja_avx2_short_sums: one pass for t <= 8, 1.4x the
   kernel at 4096 bins on this project's AMD EPYC, Zen 3), then doubled; otherwise pairs of
   codes, then doubled. */
static const unsigned short *
straja_code_window_sums(const unsigned char *x, ptrdiff_t n, ptrdiff_t t, unsigned short *w,
                        unsigned short *a, unsigned short *b)
{
#ifdef STRAJA_CODE_CA_HAS_AVX2
    if (n >= STRAJA_CODE_CA_AVX2_MIN_CELLS && straja_code_ca_avx2_on()) {
        if (t <= 8) {
            straja_avx2_short_sums(x, n, (int)t, w);
            return w;
        }
        if (t & 7)
            straja_avx2_short_sums(x, n, (int)(t & 7), w);
        straja_avx2_short_sums(x, n, 8, a);
        return straja_code_double_sums(n, t, 8, t & 7, w, a, b);
    }
#endif
    return straja_code_plain_sums(x, n, t, w, a, b);
}

/* out[i] = full x[i] > lag[i] + lead[i] + thr for lo <= i < hi, all in 16 bits: the caller has
   checked that nothing wraps (twice the cells an instruction of a 32-bit test). */
static void
straja_code_ca_test16_c(const unsigned char *x, const unsigned short *lag,
                        const unsigned short *lead, ptrdiff_t lo, ptrdiff_t hi, unsigned short full,
                        unsigned short thr, unsigned char *out)
{
    ptrdiff_t i;
    for (i = lo; i < hi; i++)
        out[i] = (unsigned short)(full * x[i]) > (unsigned short)(lag[i] + lead[i] + thr);
}

/* Use the AVX2 compare if on and the CPU has AVX2; returns whether it is used. */
static int
straja_code_ca_use_avx2(int on)
{
#ifdef STRAJA_CODE_CA_HAS_AVX2
    straja_code_ca_avx2 = on && __builtin_cpu_supports("avx2");
    return straja_code_ca_avx2;
#else
    (void)on;
    return 0;
#endif
}

/* out[i] = full x[i] > lag[i] + lead[i] + thr for lo <= i < hi, in 16 bits (nothing wraps). */
static void
straja_code_ca_test16(const unsigned char *x, const unsigned short *lag,
                      const unsigned short *lead, ptrdiff_t lo, ptrdiff_t hi, unsigned short full,
                      unsigned short thr, unsigned char *out)
{
#ifdef STRAJA_CODE_CA_HAS_AVX2
    if (hi - lo >= STRAJA_CODE_CA_AVX2_MIN_CELLS && straja_code_ca_avx2_on()) {
        straja_avx2_ca_test16(x, lag, lead, lo, hi, full, thr, out);
        return;
    }
#endif
    straja_code_ca_test16_c(x, lag, lead, lo, hi, full, thr, out);
}

#endif
