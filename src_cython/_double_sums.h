/* Window sums by doubling, for the CA-CFAR kernels of straja._cfar: the code-domain one (16-bit
   sums of uint8 codes, _code_ca.h) and the linear one (double sums of float32 mW, _freq_sums.h).
   STRAJA_DEFINE_WINDOW_SUMS(prefix, X, T) defines, for readings of type X summed in type T,

       static const T *prefix_plain_sums(const X *x, ptrdiff_t n, ptrdiff_t t, T *w, T *a, T *b)

   the window sums s[j] = sum(x[j:j+t]) for j <= n - t, in w, a or b (returned): the readings of
   t's last binary digit into w, pairs of readings into a, then

       static const T *prefix_double_sums(ptrdiff_t n, ptrdiff_t t, ptrdiff_t block,
                                          ptrdiff_t w_len, T *w, T *a, T *b)

   the window sums s[j] = sum(x[j:j+t]) for j <= n - t of a row of n cells, from the block sums
   a[j] = sum(x[j:j+block]) and w[j] = sum(x[j:j+w_len]) of t's lower binary digits: sums of
   blocks of 2 block, 4 block, ... cells, those of t's binary digits added into w. Each pass is
   an element-wise loop (vectorised), unlike a running sum's carried chain, and nothing is ever
   subtracted (a huge or non-finite reading reaches only the windows holding it); two doublings
   with no digit of t between them are one pass (blocks of 4 summed), so 8 cells from pairs take
   two passes, not three (1.05x at 256 bins, paired, the code kernel). Returns the buffer
   holding the t-sums: w, a or b. */
#ifndef STRAJA_DOUBLE_SUMS_H
#define STRAJA_DOUBLE_SUMS_H

#include <stddef.h>

#define STRAJA_DEFINE_WINDOW_SUMS(prefix, X, T)                                                 \
static const T *                                                                                \
prefix##_double_sums(ptrdiff_t n, ptrdiff_t t, ptrdiff_t block, ptrdiff_t w_len, T *w, T *a, T *b)              \
{                                                                                               \
    ptrdiff_t j;                                                                                \
    T *tmp;                                                                                     \
    for (;;) {                                                                                  \
        if (t & block) {                                                                        \
            if (w_len == 0) {                                                                   \
                if (t == block)                                                                 \
                    return a;                                                                   \
                for (j = 0; j < n - block + 1; j++)                                             \
                    w[j] = a[j];                                                                \
            } else {                                                                            \
                for (j = 0; j < n - w_len - block + 1; j++)                                     \
                    w[j] = (T)(w[j] + a[j + w_len]);                                            \
            }                                                                                   \
            w_len += block;                                                                     \
            if (w_len == t)                                                                     \
                return w;                                                                       \
        }                                                                                       \
        if (!(t & (2 * block)) && 4 * block <= t) {                                             \
            for (j = 0; j < n - 4 * block + 1; j++)                                             \
                b[j] = (T)(a[j] + a[j + block] + a[j + 2 * block] + a[j + 3 * block]);          \
            block *= 4;                                                                         \
        } else {                                                                                \
            for (j = 0; j < n - 2 * block + 1; j++)                                             \
                b[j] = (T)(a[j] + a[j + block]);                                                \
            block *= 2;                                                                         \
        }                                                                                       \
        tmp = a;                                                                                \
        a = b;                                                                                  \
        b = tmp;                                                                                \
    }                                                                                           \
} \
                                                                                                \
static const T *                                                                                \
prefix##_plain_sums(const X *x, ptrdiff_t n, ptrdiff_t t, T *w, T *a, T *b)                     \
{                                                                                               \
    ptrdiff_t j;                                                                                \
    if (t & 1) {                                                                                \
        for (j = 0; j < n; j++)                                                                 \
            w[j] = (T)x[j];                                                                     \
    }                                                                                           \
    if (t == 1)                                                                                 \
        return w;                                                                               \
    for (j = 0; j < n - 1; j++)                                                                 \
        a[j] = (T)((T)x[j] + (T)x[j + 1]);                                                      \
    return prefix##_double_sums(n, t, 2, t & 1, w, a, b);                                       \
}

#endif
