/* Vectorizable math and row-block kernels of fastgd_core.
 *
 * Plain C that GCC/Clang vectorize at -O3 without -ffast-math: selects are
 * ternaries on values computed unconditionally (GCC needs -fno-trapping-math,
 * Clang's default, to if-convert them), bit casts go through memcpy, and
 * reductions use explicit lanes.  Infinities and NaN keep their IEEE meaning.
 *
 * The kernels marked FGD_DISPATCHED are compiled once per instruction set
 * and chosen at run time (_dispatch.h).
 */
#ifndef FASTGD_SIMD_H
#define FASTGD_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_dispatch.h"

/* Helpers are forced inline so that each dispatched variant compiles them for its target. */
#if defined(_MSC_VER)
#  define FGD_RESTRICT __restrict
#  define FGD_INLINE static __forceinline
#elif defined(__GNUC__)
#  define FGD_RESTRICT restrict
#  define FGD_INLINE static inline __attribute__((always_inline))
#else
#  define FGD_RESTRICT restrict
#  define FGD_INLINE static inline
#endif

/* A hint to load the cache line holding p (no fault if p is not mapped). */
#if defined(__GNUC__) || defined(__clang__)
#  define FGD_PREFETCH(p) __builtin_prefetch(p)
#else
#  define FGD_PREFETCH(p) ((void)0)
#endif

/* ------------------------------------------------------------ build facts */

static inline int fgd_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* The instruction set the dispatched kernels of this module run with. */
static inline const char *fgd_simd_variant(void)
{
#if FGD_DISPATCH
    if (fgd_isa == FGD_ISA_AVX512)
        return "avx512: x86-64-v4 (AVX-512, 512-bit vectors)";
    if (fgd_isa == FGD_ISA_AVX2)
        return "avx2: x86-64-v3 (AVX2+FMA)";
#endif
#if defined(__AVX2__) && defined(__FMA__)
    return "baseline: the build's target (AVX2+FMA)";
#elif defined(__x86_64__) || defined(_M_X64)
    return "baseline: the build's target (x86-64, SSE2)";
#else
    return "baseline: the compiler's default target";
#endif
}

/* ----------------------------------------------------- scalar elementwise */

FGD_INLINE double fgd_from_bits(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }
FGD_INLINE uint64_t fgd_to_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }

#define FGD_LN2_HI 6.93147180369123816490e-01 /* 32 significant bits: k * LN2_HI is exact */
#define FGD_LN2_LO 1.90821492927058770002e-10

/* exp(t) for t <= 0 (NaN propagates), within ~1 ulp, branch-free.
 * t = k ln2 + r with k = round(t / ln2), |r| <= ln2 / 2; exp(r) by its Taylor
 * polynomial of degree 13 (truncation < 1e-17); 2^k is built in the exponent
 * bits as 2^(k + 64) * 2^-64, so subnormal results are rounded once and
 * t < -745.2 gives 0. */
FGD_INLINE double fgd_exp_nonpos(double t)
{
    const double shift = 0x1.8p52; /* adding it rounds to an integer, kept in the low bits */
    t = t < -746.0 ? -746.0 : t;  /* exp(-746) < 2^-1075 rounds to 0; keeps k + 1087 > 0 */
    double kd = t * 1.4426950408889634 + shift;
    double k = kd - shift;
    double r = (t - k * FGD_LN2_HI) - k * FGD_LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double scale = fgd_from_bits((fgd_to_bits(kd) + 1087) << 52); /* 2^(k + 64) */
    return p * scale * 0x1p-64;
}

/* log1p(e) for e in [0, 1] (NaN propagates), within ~1 ulp, branch-free
 * (fdlibm's log1p).  With u = 1 + e rounded: for u < sqrt(2), f = e and
 * log1p(e) = log1p(f); otherwise f = u/2 - 1 and log1p(e) = ln2 + log1p(f)
 * + c, where c = (e - (u - 1)) / u corrects the rounding of 1 + e.
 * log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2))), s = f / (2 + f), |s| < 0.1716. */
FGD_INLINE double fgd_log1p_unit(double e)
{
    double u = 1.0 + e, f_big = 0.5 * u - 1.0, c_big = (e - (u - 1.0)) / u;
    int big = e >= 0.41421356237309503;
    double f = big ? f_big : e;
    double c = big ? c_big : 0.0;
    double k = big ? 1.0 : 0.0;
    double s = f / (2.0 + f), z = s * s;
    double R = 1.479819860511658591e-01;
    R = R * z + 1.531383769920937332e-01;
    R = R * z + 1.818357216161805012e-01;
    R = R * z + 2.222219843214978396e-01;
    R = R * z + 2.857142874366239149e-01;
    R = R * z + 3.999999999940941908e-01;
    R = R * z + 6.666666666666735130e-01;
    R *= z;
    double hfsq = 0.5 * f * f;
    return k * FGD_LN2_HI - ((hfsq - (s * (hfsq + R) + (k * FGD_LN2_LO + c))) - f);
}

/* sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0, e = exp(-|z|). */
FGD_INLINE double fgd_sigmoid(double z)
{
    double e = fgd_exp_nonpos(-fabs(z));
    double num = z >= 0.0 ? 1.0 : e;
    return num / (1.0 + e);
}

/* log1pexp(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)). */
FGD_INLINE double fgd_log1pexp(double z)
{
    return (z > 0.0 ? z : 0.0) + fgd_log1p_unit(fgd_exp_nonpos(-fabs(z)));
}

/* Binary cross-entropy of logit z and label y, with one exponential:
 * z <= 0: e = exp(z),  l = log1p(e) - y z,       dl/dz = ((1 - y) e - y) / (1 + e);
 * z > 0:  e = exp(-z), l = log1p(e) + (1 - y) z, dl/dz = ((1 - y) - y e) / (1 + e). */
FGD_INLINE double fgd_logistic_term(double z, double y, double *dz)
{
    double e = fgd_exp_nonpos(-fabs(z));
    double num_pos = (1.0 - y) - y * e, num_neg = (1.0 - y) * e - y;
    double lin_pos = (1.0 - y) * z, lin_neg = -y * z;
    int pos = z > 0.0;
    *dz = (pos ? num_pos : num_neg) / (1.0 + e);
    return fgd_log1p_unit(e) + (pos ? lin_pos : lin_neg);
}

/* ------------------------------------------------ kernels, per data type */

#define FGD_LOGISTIC 0
#define FGD_SQUARED 1
#define FGD_BLOCK_MAX 128   /* rows per block, at most */
#ifndef FGD_BLOCK_BYTES
#  define FGD_BLOCK_BYTES 16384 /* a block of X stays in L1 between its two passes */
#endif

/* Sum of the partial sums a[0:lanes], lanes = 8 or 16, pairwise in a fixed
 * order (written out: GCC compiles a generic loop here poorly).  Clobbers a. */
FGD_INLINE double fgd_sum_lanes(double *a, int lanes)
{
    if (lanes == 16)
        for (int q = 0; q < 8; q++)
            a[q] += a[q + 8];
    for (int q = 0; q < 4; q++)
        a[q] += a[q + 4];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

/* sum(v[0:m]) with four interleaved partial sums. */
FGD_INLINE double fgd_sum(const double *v, ptrdiff_t m)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t k = 0;
    for (; k + 4 <= m; k += 4)
        for (int q = 0; q < 4; q++)
            a[q] += v[k + q];
    for (int q = 0; k < m; k++, q++)
        a[q] += v[k];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* double: 16 partial sums per dot product (4 AVX2 registers);
 * float: 8 lanes of float products, 4 deep, widened to double once per group. */
#define FGD_TEMPLATE "_simd_rows.h"
#define FGD_T double
#define FGD_SUFFIX _d
#define FGD_GROUP 1
#define FGD_LANES 16
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#undef FGD_GROUP
#undef FGD_LANES

#define FGD_T float
#define FGD_SUFFIX _f
#define FGD_GROUP 4
#define FGD_LANES 8
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#undef FGD_GROUP
#undef FGD_LANES
#undef FGD_TEMPLATE

#endif /* FASTGD_SIMD_H */
