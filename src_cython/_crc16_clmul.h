/* The CRC-16 of straja._framing (MSB first, no final XOR: docs/protocol.md) folded 16 bytes at a
   time by carry-less multiplication (PCLMULQDQ, checked at run time: the module stays portable),
   after Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ" (Intel,
   2009). The CRC of a message is M(x) x^16 mod P(x), so any M' = M mod P has the same CRC: a
   128-bit state S of the bytes so far becomes, with the next 16 bytes D,
   S x^128 + D = S_hi x^192 + S_lo x^128 + D = S_hi k192 + S_lo k128 + D (mod P),
   two 64 x 16-bit products (k = x^n mod P), no longer than 80 bits. The caller takes the CRC of
   the state's 16 bytes and of the bytes after them with its table (slicing-by-16 did 1 byte a
   cycle; this, 16 bytes in one product's latency). */
#ifndef STRAJA_CRC16_CLMUL_H
#define STRAJA_CRC16_CLMUL_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAJA_CRC16_HAS_CLMUL 1
#include <immintrin.h>

static int straja_crc16_clmul = -1;  /* 1: fold by PCLMULQDQ (set at the first call) */
static uint64_t straja_crc16_k128, straja_crc16_k192;

/* x^n mod P(x), P = x^16 + poly */
static uint64_t
straja_crc16_xpow(unsigned n, unsigned poly)
{
    uint32_t r = 1;
    while (n--) {
        r <<= 1;
        if (r & 0x10000)
            r ^= 0x10000 | poly;
    }
    return r;
}

/* Use the folding if on and the CPU has PCLMULQDQ and SSSE3; returns whether it is used. */
static int
straja_crc16_use_clmul(int on, unsigned poly)
{
    straja_crc16_k128 = straja_crc16_xpow(128, poly);
    straja_crc16_k192 = straja_crc16_xpow(192, poly);
    straja_crc16_clmul = on && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("ssse3");
    return straja_crc16_clmul;
}

/* The 16 bytes of M mod P, M the first n - n % 16 bytes of p (n >= 32) with init XORed into its
   first two (a register's initial value is that), into state[16]; returns n - n % 16. */
__attribute__((target("pclmul,ssse3"))) static ptrdiff_t
straja_crc16_fold_clmul(const unsigned char *p, ptrdiff_t n, unsigned init, unsigned char *state)
{
    /* bytes in reverse: the first byte of 16 is the high byte of the 128-bit number */
    const __m128i reverse = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128i k = _mm_set_epi64x((long long)straja_crc16_k192, (long long)straja_crc16_k128);
    __m128i s = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), reverse);
    ptrdiff_t i;
    s = _mm_xor_si128(s, _mm_set_epi64x((long long)((uint64_t)(init & 0xFFFF) << 48), 0));
    for (i = 16; i + 16 <= n; i += 16)
        s = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(s, k, 0x11),   /* S_hi k192 */
                                        _mm_clmulepi64_si128(s, k, 0x00)),  /* S_lo k128 */
                          _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + i)), reverse));
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi8(s, reverse));
    return i;
}
#endif

#ifndef STRAJA_CRC16_HAS_CLMUL
static int
straja_crc16_use_clmul(int on, unsigned poly)
{
    (void)on; (void)poly;
    return 0;
}
#endif

/* The folded state of p[0:n] (see above) into state[16] and the bytes it covers, or 0 (nothing
   folded: a short message, or no PCLMULQDQ) for the caller's table to do all of it. */
static ptrdiff_t
straja_crc16_fold(const unsigned char *p, ptrdiff_t n, unsigned init, unsigned poly,
                  unsigned char *state)
{
#ifdef STRAJA_CRC16_HAS_CLMUL
    if (straja_crc16_clmul < 0)
        straja_crc16_use_clmul(1, poly);
    if (n >= 32 && straja_crc16_clmul)
        return straja_crc16_fold_clmul(p, n, init, state);
#else
    (void)p; (void)n; (void)init; (void)poly; (void)state;
#endif
    return 0;
}

#endif
