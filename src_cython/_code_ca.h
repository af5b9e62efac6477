/* Code-domain CA-CFAR loops of straja._cfar (CodeCFAR, kind CA): plain element-wise C loops that
   the compiler vectorises for the baseline (SSE2 on x86-64, NEON on aarch64). On x86-64 with gcc
   or clang the compare of long blocks is the AVX2 loop of _code_ca_avx2.h where the CPU has AVX2
   (checked at run time: the module stays portable, no build needs -march=native); the same
   decisions, bit for bit. The window sums stay baseline C: on this project's AMD EPYC (Zen 1,
   whose AVX2 does 256 bits as two halves) AVX2 sums were 0.97x the baseline's at 1024-4096
   bins, and AVX2 clones of all the loops (the kernel before) 0.9x at 64-256 bins, paired. */
#ifndef STRAJA_CODE_CA_H
#define STRAJA_CODE_CA_H

#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAJA_CODE_CA_HAS_AVX2 1
#include "_code_ca_avx2.h"
#endif

/* Window sums s[j] = sum(x[j:j+t]) for j <= n - t, in w, a or b (returned), by doubling: sums of
   blocks of 2, 4, 8, ... cells, those of t's binary digits added into w. Each pass is an
   element-wise loop (vectorised), unlike a running sum's carried chain; two doublings with no
   digit of t between them are one pass (blocks of 4 summed), so t = 8 takes two passes (pairs,
   then 8 cells from 4 pairs: 1.05x at 256 bins against three passes, paired). The sums fit 16
   bits for t <= 128 (MAX_CODE_TRAIN). */
static const unsigned short *
straja_code_window_sums(const unsigned char *x, ptrdiff_t n, ptrdiff_t t, unsigned short *w,
                        unsigned short *a, unsigned short *b)
{
    ptrdiff_t j, block = 2, w_len = 0;
    unsigned short *tmp;
    if (t & 1) {
        for (j = 0; j < n; j++)
            w[j] = x[j];
        w_len = 1;
    }
    if (t == 1)
        return w;
    for (j = 0; j < n - 1; j++)
        a[j] = (unsigned short)(x[j] + x[j + 1]);
    for (;;) {
        if (t & block) {
            if (w_len == 0) {
                if (t == block)
                    return a;
                for (j = 0; j < n - block + 1; j++)
                    w[j] = a[j];
            } else {
                for (j = 0; j < n - w_len - block + 1; j++)
                    w[j] = (unsigned short)(w[j] + a[j + w_len]);
            }
            w_len += block;
            if (w_len == t)
                return w;
        }
        if (!(t & (2 * block)) && 4 * block <= t) {
            for (j = 0; j < n - 4 * block + 1; j++)
                b[j] = (unsigned short)(a[j] + a[j + block] + a[j + 2 * block] + a[j + 3 * block]);
            block *= 4;
        } else {
            for (j = 0; j < n - 2 * block + 1; j++)
                b[j] = (unsigned short)(a[j] + a[j + block]);
            block *= 2;
        }
        tmp = a;
        a = b;
        b = tmp;
    }
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
