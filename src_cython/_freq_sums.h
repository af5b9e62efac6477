/* Window sums of linear power for straja._cfar's FreqCFAR (CA, GO and SO across frequency):
   s[j] = sum(x[j:j+t]) of float32 mW in double, by doubling (_double_sums.h). Pairwise sums of
   nonnegative readings are as close to the exact sum as a sequential one (a few ulps of double)
   and each pass is an element-wise loop the compiler vectorises; the running prefix and suffix
   sums before them were chains of dependent adds, most of the kernel's time. */
#ifndef STRAJA_FREQ_SUMS_H
#define STRAJA_FREQ_SUMS_H

#include "_double_sums.h"

/* straja_mw_plain_sums(x, n, t, w, a, b) and straja_mw_double_sums */
STRAJA_DEFINE_WINDOW_SUMS(straja_mw, float, double)

#endif
