/* Code-domain CA-CFAR loops of straja._cfar (CodeCFAR, kind CA): plain element-wise C loops that
   the compiler vectorises. On x86-64 (gcc or clang, glibc) each is compiled twice, for the
   baseline (SSE2) and for AVX2 (twice the cells an instruction), and the loader picks the one the
   CPU runs (target_clones, an ifunc): the module stays portable, and no build needs
   -march=native. Elsewhere (ARM: NEON is baseline) they are compiled once. */
#ifndef STRAJA_CODE_CA_H
#define STRAJA_CODE_CA_H

#include <stddef.h>

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define STRAJA_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef STRAJA_CLONES
#define STRAJA_CLONES
#endif

/* Window sums s[j] = sum(x[j:j+t]) for j <= n - t, in w or in a (returned), by doubling: sums of
   blocks of 2, 4, 8, ... cells, those of t's binary digits added into w. Each pass is an
   element-wise loop (vectorised), unlike a running sum's carried chain; t = 8 takes three
   passes. The sums fit 16 bits for t <= 128 (MAX_CODE_TRAIN). */
STRAJA_CLONES static const unsigned short *
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
        for (j = 0; j < n - 2 * block + 1; j++)
            b[j] = (unsigned short)(a[j] + a[j + block]);
        tmp = a;
        a = b;
        b = tmp;
        block *= 2;
    }
}

/* out[i] = full x[i] > lag[i] + lead[i] + thr for lo <= i < hi, all in 16 bits: the caller has
   checked that nothing wraps (twice the cells an instruction of a 32-bit test). */
STRAJA_CLONES static void
straja_code_ca_test16(const unsigned char *x, const unsigned short *lag,
                      const unsigned short *lead, ptrdiff_t lo, ptrdiff_t hi, unsigned short full,
                      unsigned short thr, unsigned char *out)
{
    ptrdiff_t i;
    for (i = lo; i < hi; i++)
        out[i] = (unsigned short)(full * x[i]) > (unsigned short)(lag[i] + lead[i] + thr);
}

#endif
