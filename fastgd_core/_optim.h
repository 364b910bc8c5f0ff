/* Fused optimizer updates of fastgd_core: one pass over p, g and the state.
 *
 * Each function updates the elements [0, n) of one parameter array: it
 * prepares the gradient (clamp to [-clip_value, clip_value], times grad_scale,
 * plus weight_decay * p), updates the state and p with PyTorch's rule, and
 * returns the raw gradient's sum of squares, accumulated in double (an
 * "omp simd" reduction, so that it vectorizes).  Arithmetic is double for both dtypes.
 * Optional buffers are NULL.  Compiled with CPU dispatch (see _simd.h).
 */
#ifndef FASTGD_OPTIM_H
#define FASTGD_OPTIM_H

#include "_simd.h"


FGD_INLINE double fgd_prepared(double p, double g, double clip_value, double grad_scale, double weight_decay)
{
    double c = g > clip_value ? clip_value : (g < -clip_value ? -clip_value : g);
    return c * grad_scale + weight_decay * p;
}

/* "omp simd reduction" lets the compiler vectorize the sum of squares without
 * -ffast-math (active with -fopenmp or -fopenmp-simd, ignored otherwise). */
#if defined(_OPENMP) || defined(FGD_OPENMP_SIMD)
#  define FGD_SIMD_REDUCTION(...) _Pragma(FGD_STR_PRAGMA(omp simd reduction(+:__VA_ARGS__)))
#  define FGD_STR_PRAGMA(...) #__VA_ARGS__
#else
#  define FGD_SIMD_REDUCTION(...)
#endif

/* The update loop over [0, n): the body sees i and gi = g[i] (double) and the
 * raw sum of squares is accumulated alongside. */
#define FGD_LANE_LOOP(...)                                          \
    double raw = 0.0;                                               \
    FGD_SIMD_REDUCTION(raw)                                         \
    for (ptrdiff_t i = 0; i < n; i++) {                             \
        double gi = (double)g[i];                                   \
        raw += gi * gi;                                             \
        __VA_ARGS__                                                 \
    }                                                               \
    return raw;

#define FGD_DEFINE_OPTIM(T, SUFFIX)                                                                      \
FGD_DISPATCHED void fgd_squared_norm_##SUFFIX(const T *FGD_RESTRICT g, ptrdiff_t n, double clip_value,  \
                                              double *raw, double *clipped)                              \
{                                                                                                        \
    double r = 0.0, c = 0.0;                                                                             \
    FGD_SIMD_REDUCTION(r, c)                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) {                                                                  \
        double x = (double)g[i];                                                                         \
        double y = x > clip_value ? clip_value : (x < -clip_value ? -clip_value : x);                    \
        r += x * x;                                                                                      \
        c += y * y;                                                                                      \
    }                                                                                                    \
    *raw = r;                                                                                            \
    *clipped = c;                                                                         \
}                                                                                                        \
                                                                                                         \
FGD_DISPATCHED double fgd_sgd_##SUFFIX(T *FGD_RESTRICT p, const T *FGD_RESTRICT g, T *FGD_RESTRICT buf,  \
                                       ptrdiff_t n, double lr, double momentum, double dampening,        \
                                       double weight_decay, int nesterov, int first_step,                \
                                       double clip_value, double grad_scale)                             \
{                                                                                                        \
    if (buf == NULL) {                                                                                   \
        FGD_LANE_LOOP(p[i] = (T)((double)p[i]                                                            \
                     - lr * fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay));)     \
    } else if (first_step) {                                                                             \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);  \
                      buf[i] = (T)d;                                                                     \
                      double b = (double)buf[i];                                                         \
                      p[i] = (T)((double)p[i] - lr * (nesterov ? d + momentum * b : b));)               \
    } else {                                                                                             \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);  \
                      buf[i] = (T)(momentum * (double)buf[i] + (1.0 - dampening) * d);                   \
                      double b = (double)buf[i];                                                         \
                      p[i] = (T)((double)p[i] - lr * (nesterov ? d + momentum * b : b));)               \
    }                                                                                                    \
}                                                                                                        \
                                                                                                         \
FGD_DISPATCHED double fgd_adagrad_##SUFFIX(T *FGD_RESTRICT p, const T *FGD_RESTRICT g,                  \
                                           T *FGD_RESTRICT sum, ptrdiff_t n, double clr,                 \
                                           double weight_decay, double eps, double clip_value,           \
                                           double grad_scale)                                            \
{                                                                                                        \
    FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);      \
                  sum[i] = (T)((double)sum[i] + d * d);                                                  \
                  p[i] = (T)((double)p[i] - clr * d / (sqrt((double)sum[i]) + eps));)                   \
}                                                                                                        \
                                                                                                         \
FGD_DISPATCHED double fgd_rmsprop_##SUFFIX(T *FGD_RESTRICT p, const T *FGD_RESTRICT g,                  \
                                           T *FGD_RESTRICT v, T *FGD_RESTRICT buf, T *FGD_RESTRICT m,    \
                                           ptrdiff_t n, double lr, double alpha, double eps,             \
                                           double weight_decay, double momentum, double clip_value,      \
                                           double grad_scale)                                            \
{                                                                                                        \
    int centered = m != NULL, with_momentum = buf != NULL;                                               \
    if (!centered && !with_momentum) {                                                                   \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);  \
                      v[i] = (T)(alpha * (double)v[i] + (1.0 - alpha) * d * d);                          \
                      double a = sqrt((double)v[i]) + eps;                                               \
                      p[i] = (T)((double)p[i] - lr * d / a);)                                            \
    } else {                                                                                             \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);  \
                      v[i] = (T)(alpha * (double)v[i] + (1.0 - alpha) * d * d);                          \
                      double a;                                                                          \
                      if (centered) {                                                                    \
                          double mi = (double)m[i];                                                      \
                          m[i] = (T)(mi + (1.0 - alpha) * (d - mi));                                     \
                          mi = (double)m[i];                                                             \
                          double var = (double)v[i] - mi * mi;                                           \
                          a = sqrt(var > 0.0 ? var : 0.0) + eps;                                         \
                      } else {                                                                           \
                          a = sqrt((double)v[i]) + eps;                                                  \
                      }                                                                                  \
                      if (with_momentum) {                                                               \
                          buf[i] = (T)(momentum * (double)buf[i] + d / a);                               \
                          p[i] = (T)((double)p[i] - lr * (double)buf[i]);                                \
                      } else {                                                                           \
                          p[i] = (T)((double)p[i] - lr * d / a);                                         \
                      })                                                                                 \
    }                                                                                                    \
}                                                                                                        \
                                                                                                         \
FGD_DISPATCHED double fgd_adam_##SUFFIX(T *FGD_RESTRICT p, const T *FGD_RESTRICT g, T *FGD_RESTRICT m,  \
                                        T *FGD_RESTRICT v, T *FGD_RESTRICT vmax, ptrdiff_t n,            \
                                        double lr, double beta1, double beta2, double eps,               \
                                        double weight_decay, int decoupled, double step,                 \
                                        double clip_value, double grad_scale)                            \
{                                                                                                        \
    double step_size = lr / (1.0 - pow(beta1, step));                                                    \
    double bc2_sqrt = sqrt(1.0 - pow(beta2, step));                                                      \
    double l2 = decoupled ? 0.0 : weight_decay;                                                          \
    double decay = decoupled ? 1.0 - lr * weight_decay : 1.0;                                            \
    if (vmax == NULL) {                                                                                  \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, l2);            \
                      double pi = (double)(T)((double)p[i] * decay);                                     \
                      double mi = (double)m[i];                                                          \
                      m[i] = (T)(mi + (1.0 - beta1) * (d - mi));                                         \
                      v[i] = (T)(beta2 * (double)v[i] + (1.0 - beta2) * d * d);                          \
                      p[i] = (T)(pi - step_size * (double)m[i] / (sqrt((double)v[i]) / bc2_sqrt + eps));) \
    } else {                                                                                             \
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, l2);            \
                      double pi = (double)(T)((double)p[i] * decay);                                     \
                      double mi = (double)m[i];                                                          \
                      m[i] = (T)(mi + (1.0 - beta1) * (d - mi));                                         \
                      v[i] = (T)(beta2 * (double)v[i] + (1.0 - beta2) * d * d);                          \
                      double vm = (double)vmax[i], vi = (double)v[i];                                    \
                      vmax[i] = (T)(vm > vi ? vm : vi);                                                  \
                      p[i] = (T)(pi - step_size * (double)m[i] / (sqrt((double)vmax[i]) / bc2_sqrt + eps));) \
    }                                                                                                    \
}

FGD_DEFINE_OPTIM(double, d)
FGD_DEFINE_OPTIM(float, f)

#endif
