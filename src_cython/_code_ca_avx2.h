/* The AVX2 compare of the code CA kernel (straja._cfar, CodeCFAR kind CA), included by
   _code_ca.h on x86-64 with gcc or clang: compiled for AVX2 by a function attribute, run only
   when the CPU has it (checked at run time), so the module stays portable and no build needs
   -march=native. It decides what the plain C loop of _code_ca.h decides, bit for bit, in 16-bit
   lanes, 32 cells an iteration, with whole vectors only: the last starts at hi - 32 and
   overlaps the one before (no scalar tail). */
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

#endif
