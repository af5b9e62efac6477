/* AVX2 loops of the code CA kernel (straja._cfar, CodeCFAR kind CA), included by _code_ca.h on
   x86-64 with gcc or clang: compiled for AVX2 by a function attribute, run only when the CPU has
   it (checked at run time), so the module stays portable and no build needs -march=native.
   They compute what the plain C loops of _code_ca.h compute, bit for bit, in 16-bit lanes, 16
   cells an instruction. Each loop does whole vectors only: its last vector starts at len - 16
   and overlaps the one before (computed first, from the inputs as they were, where the loop
   works in place), so no scalar tail: a 64-bin row's loops are a few vectors each. */
#ifndef STRAJA_CODE_CA_AVX2_H
#define STRAJA_CODE_CA_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#define STRAJA_AVX2 __attribute__((target("avx2")))
#define STRAJA_LOAD16(p) _mm256_loadu_si256((const __m256i *)(p))
#define STRAJA_STORE16(p, v) _mm256_storeu_si256((__m256i *)(p), v)
/* 16 codes widened to 16 bits */
#define STRAJA_LOAD_CODES(p) _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p)))

/* dst[j] = p[j] + q[j] for j < len, len >= 16; dst may be p */
STRAJA_AVX2 static void
straja_avx2_add(unsigned short *dst, const unsigned short *p, const unsigned short *q,
                ptrdiff_t len)
{
    ptrdiff_t j, last = len - 16;
    __m256i tail = _mm256_add_epi16(STRAJA_LOAD16(p + last), STRAJA_LOAD16(q + last));
    for (j = 0; j < last; j += 16)
        STRAJA_STORE16(dst + j, _mm256_add_epi16(STRAJA_LOAD16(p + j), STRAJA_LOAD16(q + j)));
    STRAJA_STORE16(dst + last, tail);
}

/* dst[j] = p[j] + p[j + d] + p[j + 2 d] + p[j + 3 d] for j < len, len >= 16; dst is not p */
STRAJA_AVX2 static void
straja_avx2_add4(unsigned short *dst, const unsigned short *p, ptrdiff_t d, ptrdiff_t len)
{
    ptrdiff_t j = 0, last = len - 16;
    for (;;) {
        __m256i near = _mm256_add_epi16(STRAJA_LOAD16(p + j), STRAJA_LOAD16(p + j + d));
        __m256i far = _mm256_add_epi16(STRAJA_LOAD16(p + j + 2 * d), STRAJA_LOAD16(p + j + 3 * d));
        STRAJA_STORE16(dst + j, _mm256_add_epi16(near, far));
        if (j == last)
            return;
        j = j + 16 < last ? j + 16 : last;
    }
}

/* dst[j] = x[j] (cells 1) or x[j] + x[j + 1] (cells 2) for j < len (x holds len + cells - 1
   codes), len >= 16 */
STRAJA_AVX2 static void
straja_avx2_from_codes(unsigned short *dst, const unsigned char *x, ptrdiff_t len, int cells)
{
    ptrdiff_t j = 0, last = len - 16;
    __m256i v;
    for (;;) {
        v = STRAJA_LOAD_CODES(x + j);
        if (cells == 2)
            v = _mm256_add_epi16(v, STRAJA_LOAD_CODES(x + j + 1));
        STRAJA_STORE16(dst + j, v);
        if (j == last)
            return;
        j = j + 16 < last ? j + 16 : last;
    }
}

/* straja_code_window_sums_c's sums by the same passes, n - t + 1 >= 16 */
STRAJA_AVX2 static const unsigned short *
straja_avx2_window_sums(const unsigned char *x, ptrdiff_t n, ptrdiff_t t, unsigned short *w,
                        unsigned short *a, unsigned short *b)
{
    ptrdiff_t block = 2, w_len = 0;
    unsigned short *tmp;
    if (t & 1) {
        straja_avx2_from_codes(w, x, n, 1);
        w_len = 1;
    }
    if (t == 1)
        return w;
    straja_avx2_from_codes(a, x, n - 1, 2);
    for (;;) {
        if (t & block) {
            if (w_len == 0) {
                if (t == block)
                    return a;
                memcpy(w, a, (size_t)(n - block + 1) * sizeof *w);
            } else {
                straja_avx2_add(w, w, a + w_len, n - w_len - block + 1);
            }
            w_len += block;
            if (w_len == t)
                return w;
        }
        if (!(t & (2 * block)) && 4 * block <= t) {
            straja_avx2_add4(b, a, block, n - 4 * block + 1);
            block *= 4;
        } else {
            straja_avx2_add(b, a, a + block, n - 2 * block + 1);
            block *= 2;
        }
        tmp = a;
        a = b;
        b = tmp;
    }
}

/* straja_code_ca_test16_c's decisions, hi - lo >= 32: full x - (lag + lead + thr), saturated at
   0 (no wrap: the caller's check), is > 0 exactly where the cell exceeds; min(that, 1) is the
   decision, packed to bytes */
STRAJA_AVX2 static void
straja_avx2_ca_test16(const unsigned char *x, const unsigned short *lag,
                      const unsigned short *lead, ptrdiff_t lo, ptrdiff_t hi, unsigned short full,
                      unsigned short thr, unsigned char *out)
{
    const __m256i full16 = _mm256_set1_epi16((short)full), thr16 = _mm256_set1_epi16((short)thr);
    const __m256i one = _mm256_set1_epi16(1);
    ptrdiff_t i = lo, last = hi - 32;
    __m256i s0, s1, d0, d1;
    for (;;) {
        s0 = _mm256_add_epi16(_mm256_add_epi16(STRAJA_LOAD16(lag + i), STRAJA_LOAD16(lead + i)),
                              thr16);
        s1 = _mm256_add_epi16(_mm256_add_epi16(STRAJA_LOAD16(lag + i + 16),
                                               STRAJA_LOAD16(lead + i + 16)), thr16);
        d0 = _mm256_subs_epu16(_mm256_mullo_epi16(STRAJA_LOAD_CODES(x + i), full16), s0);
        d1 = _mm256_subs_epu16(_mm256_mullo_epi16(STRAJA_LOAD_CODES(x + i + 16), full16), s1);
        d0 = _mm256_min_epu16(d0, one);
        d1 = _mm256_min_epu16(d1, one);
        /* packus interleaves the two vectors' 128-bit halves: 0xd8 puts them back in order */
        STRAJA_STORE16(out + i, _mm256_permute4x64_epi64(_mm256_packus_epi16(d0, d1), 0xd8));
        if (i == last)
            return;
        i = i + 32 < last ? i + 32 : last;
    }
}

#endif
