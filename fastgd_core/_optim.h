/* Fused optimizer updates of fastgd_core: one pass over p, g and the state.
 *
 * Each function updates the elements [0, n) of one parameter array: it
 * prepares the gradient (clamp to [-clip_value, clip_value], times grad_scale,
 * plus weight_decay * p), updates the state and p with PyTorch's rule, and
 * returns the raw gradient's sum of squares, accumulated in double (an
 * "omp simd" reduction, so that it vectorizes).  Elementwise arithmetic is in
 * the data's type (see _optim_loops.h).
 * Optional buffers are NULL.  Compiled with CPU dispatch (see _simd.h).
 */
#ifndef FASTGD_OPTIM_H
#define FASTGD_OPTIM_H

#include "_simd.h"



/* "omp simd reduction" lets the compiler vectorize the sum of squares without
 * -ffast-math (active with -fopenmp or -fopenmp-simd, ignored otherwise).
 * Not with MSVC: its /openmp (OpenMP 2.0) has no simd construct, and its
 * traditional preprocessor no _Pragma (clang-cl has both). */
#if (defined(_OPENMP) || defined(FGD_OPENMP_SIMD)) && (!defined(_MSC_VER) || defined(__clang__))
#  define FGD_SIMD_REDUCTION(...) _Pragma(FGD_STR_PRAGMA(omp simd reduction(+:__VA_ARGS__)))
#  define FGD_STR_PRAGMA(...) #__VA_ARGS__
#else
#  define FGD_SIMD_REDUCTION(...)
#endif

/* The update loop over [0, n): the body sees i and gt = g[i]; the raw sum of
 * squares is accumulated alongside, in double. */
#define FGD_LANE_LOOP(...)                                          \
    double raw = 0.0;                                               \
    FGD_SIMD_REDUCTION(raw)                                         \
    for (ptrdiff_t i = 0; i < n; i++) {                             \
        FGD_T gt = g[i];                                            \
        raw += (double)gt * (double)gt;                             \
        __VA_ARGS__                                                 \
    }                                                               \
    return raw;

#define FGD_T double
#define FGD_NAME(f) f##_d
#define FGD_SQRT sqrt
#include "_optim_loops.h"
#undef FGD_T
#undef FGD_NAME
#undef FGD_SQRT
#define FGD_T float
#define FGD_NAME(f) f##_f
#define FGD_SQRT sqrtf
#include "_optim_loops.h"
#undef FGD_T
#undef FGD_NAME
#undef FGD_SQRT

#endif
