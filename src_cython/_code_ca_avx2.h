/* The AVX2 loops of the code CA kernel (straja._cfar, CodeCFAR kind CA), included by
   _code_ca.h on x86-64 with gcc or clang: compiled for AVX2 by a function attribute, run only
   when the CPU has it (checked at run time), so the module stays portable and no build needs
   -march=native. They compute what the plain C loops of _code_ca.h compute, bit for bit: the
   compare, and the sums of windows of up to 8 codes (from which the longer windows double). */
#ifndef STRAJA_CODE_CA_AVX2_H
#define STRAJA_CODE_CA_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#define STRAJA_AVX2 __attribute__((target("avx2")))
#define STRAJA_LOAD16(p) _mm256_loadu_si256((const __m256i *)(p))
#define STRAJA_STORE16(p, v) _mm256_storeu_si256((__m256i *)(p), v)
/* 16 codes widened to 16 bits */
#define STRAJA_LOAD_CODES(p) _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p)))

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

/* s[j] = x[j] + ... + x[j + k - 1] for j <= n - k, 1 <= k <= 8, straight from the codes (no pass
   over memory between): SAD against zero sums each 8-byte group of a load into its 64-bit lane,
   the group's bytes past k masked off. Load m (m = 0..7, at x + j + m) holds the sums of cells
   j + m + 8q, q = 0..3; shifted into 16-bit lane m % 4 of their qword and merged, then the
   qwords put in order: 32 sums an iteration from 8 loads (widening loads of the codes took 16).
   Whole vectors only, the last overlapping the one before (it ends at n - 8: no read past x[n - 1]);
   the cells after it (k < 8) by a running sum. */
STRAJA_AVX2 static void
straja_avx2_short_sums(const unsigned char *x, ptrdiff_t n, int k, unsigned short *s)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i keep = _mm256_set1_epi64x(k >= 8 ? -1LL : (long long)((1ULL << (8 * k)) - 1));
    __m256i r[8], lo, hi;
    ptrdiff_t j = 0, last = n - 39, m;   /* a vector reads x[j .. j + 38] */
    int acc = 0;
    while (j <= last) {
        for (m = 0; m < 8; m++)
            r[m] = _mm256_sad_epu8(_mm256_and_si256(STRAJA_LOAD16(x + j + m), keep), zero);
        for (m = 0; m < 8; m += 4)
            r[m] = _mm256_or_si256(_mm256_or_si256(r[m], _mm256_slli_epi64(r[m + 1], 16)),
                                   _mm256_or_si256(_mm256_slli_epi64(r[m + 2], 32),
                                                   _mm256_slli_epi64(r[m + 3], 48)));
        /* qwords of r[0]: sums of j+0..3, j+8..11, j+16..19, j+24..27; of r[4]: 4 cells on */
        lo = _mm256_unpacklo_epi64(r[0], r[4]);
        hi = _mm256_unpackhi_epi64(r[0], r[4]);
        STRAJA_STORE16(s + j, _mm256_permute2x128_si256(lo, hi, 0x20));
        STRAJA_STORE16(s + j + 16, _mm256_permute2x128_si256(lo, hi, 0x31));
        if (j == last)
            break;
        j = j + 32 < last ? j + 32 : last;
    }
    j = last >= 0 ? n - 7 : 0;
    if (j > n - k)
        return;
    for (m = 0; m < k; m++)
        acc += x[j + m];
    for (;;) {
        s[j] = (unsigned short)acc;
        if (j == n - k)
            return;
        acc += x[j + k] - x[j];
        j++;
    }
}

#endif
