/* The elementwise passes of the compiled network epoch (network.pyx) on
 * untyped arrays (is_float32 and void pointers, see _parallel.h): the bias
 * and activation after a layer's product, the activation's derivative before
 * the product underneath, the bias gradient, the L2 term and the epoch's
 * gradient sum.  The matrix products themselves are BLAS's. */
#ifndef FASTGD_NETWORK_H
#define FASTGD_NETWORK_H

#include <math.h>
#include <stddef.h>

#include "_optim.h"    /* FGD_SIMD_REDUCTION */
#include "_parallel.h" /* FGD_TYPED */
#include "_simd.h"

#define FGD_ACT_IDENTITY 0 /* _spec.ACTIVATION_CODES */
#define FGD_ACT_LOGISTIC 1
#define FGD_ACT_TANH 2
#define FGD_ACT_RELU 3

#define FGD_TEMPLATE "_network_loops.h"
#define FGD_T double
#define FGD_SUFFIX _d
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#define FGD_T float
#define FGD_SUFFIX _f
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#undef FGD_TEMPLATE

static inline void fgd_bias_activate(int is_float32, int activation, void *Z, const void *bias, ptrdiff_t m,
                                     ptrdiff_t b, void *live)
{
    FGD_TYPED(is_float32, fgd_bias_activate, activation, Z, bias, m, b, live);
}

static inline void fgd_add_bias(int is_float32, void *Z, const void *bias, ptrdiff_t m, ptrdiff_t b)
{
    FGD_TYPED(is_float32, fgd_add_bias, Z, bias, m, b);
}

static inline void fgd_times_derivative(int is_float32, int activation, void *delta, const void *A, ptrdiff_t n)
{
    FGD_TYPED(is_float32, fgd_times_derivative, activation, delta, A, n);
}

static inline void fgd_column_sums(int is_float32, const void *delta, ptrdiff_t m, ptrdiff_t b, double *sums)
{
    FGD_TYPED(is_float32, fgd_column_sums, delta, m, b, sums);
}

static inline double fgd_add_penalty(int is_float32, void *out, const void *grad, const void *w, ptrdiff_t n,
                                     double alpha)
{
    return FGD_TYPED(is_float32, fgd_add_penalty, out, grad, w, n, alpha);
}

static inline void fgd_accumulate(int is_float32, double *total, const void *g, ptrdiff_t n)
{
    FGD_TYPED(is_float32, fgd_accumulate, total, g, n);
}

static inline void fgd_add_into(int is_float32, void *out, const void *part, ptrdiff_t n)
{
    FGD_TYPED(is_float32, fgd_add_into, out, part, n);
}

#endif
