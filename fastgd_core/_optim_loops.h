/* The optimizer loops for one element type FGD_T (float or double), named by
 * FGD_NAME; included twice by _optim.h (a template, so that the "omp simd"
 * pragmas stay inside plain function bodies, where compilers honour them).
 *
 * Each loop updates the elements [0, n) of p and of the state rows
 * state + r * stride, reading its coefficients from k (see _optim.h), and
 * returns the raw gradient's sum of squares, accumulated in double.  The
 * elementwise arithmetic is in FGD_T, as PyTorch's fused kernels do for
 * float32 (mixing float data with double arithmetic halves the vector width
 * and measured 3x slower): the coefficients are converted to FGD_T first. */

/* The gradient preparation, clamp(g, -clip_value, clip_value) * grad_scale + weight_decay * p:
 * its three coefficients as FGD_T locals, for FGD_PREPARED. */
#define FGD_PREPARATION(k)                                                                      \
    const FGD_T clip_value = (FGD_T)(k)->clip_value, grad_scale = (FGD_T)(k)->grad_scale,      \
                weight_decay = (FGD_T)(k)->weight_decay

FGD_INLINE FGD_T FGD_NAME(fgd_prepared)(FGD_T p, FGD_T g, FGD_T clip_value, FGD_T grad_scale, FGD_T weight_decay)
{
    FGD_T c = g > clip_value ? clip_value : (g < -clip_value ? -clip_value : g);
    return c * grad_scale + weight_decay * p;
}

#define FGD_PREPARED(p) FGD_NAME(fgd_prepared)(p, gt, clip_value, grad_scale, weight_decay)

/* The first moment of the Adam family, m + (1 - beta1)(d - m) as PyTorch's lerp. */
FGD_INLINE FGD_T FGD_NAME(fgd_first_moment)(FGD_T m, FGD_T d, FGD_T rest1) { return m + rest1 * (d - m); }

/* Both moments of the Adam family at one element, stored: m as above, v = beta2 v + (1 - beta2) d^2. */
FGD_INLINE void FGD_NAME(fgd_update_moments)(FGD_T *FGD_RESTRICT m, FGD_T *FGD_RESTRICT v, FGD_T d, FGD_T rest1,
                                             FGD_T beta2, FGD_T rest2)
{
    *m = FGD_NAME(fgd_first_moment)(*m, d, rest1);
    *v = beta2 * *v + rest2 * d * d;
}

/* raw = sum g_i^2 and clipped = sum clamp(g_i, -clip_value, clip_value)^2 over [0, n).
 * The sums run in FGD_NORM_LANES independent double lanes (one chain of additions would
 * hold the pass to one element per addition latency, ~12 GB/s of float32), added pairwise
 * at the end, a fixed order; without clipping (clip_value = +inf) clipped is raw.  With
 * clipping both sums run in one "omp simd" reduction (the clamp keeps its NaN). */
#ifndef FGD_NORM_LANES
#  define FGD_NORM_LANES 16
#endif
FGD_INLINE double FGD_NAME(fgd_lanes_total)(double *lanes)
{
    for (int width = FGD_NORM_LANES / 2; width > 0; width /= 2)
        for (int q = 0; q < width; q++)
            lanes[q] += lanes[q + width];
    return lanes[0];
}

FGD_DISPATCHED void FGD_NAME(fgd_squared_norm_range)(const FGD_T *FGD_RESTRICT g, ptrdiff_t n, double clip_value,
                                                     double *raw, double *clipped)
{
    double r[FGD_NORM_LANES] = {0.0};
    ptrdiff_t i = 0, whole = n - n % FGD_NORM_LANES;
    if (isinf(clip_value) && clip_value > 0) {
        for (; i < whole; i += FGD_NORM_LANES)
            for (int q = 0; q < FGD_NORM_LANES; q++)
                r[q] += (double)g[i + q] * (double)g[i + q];
        for (; i < n; i++)
            r[0] += (double)g[i] * (double)g[i];
        *raw = *clipped = FGD_NAME(fgd_lanes_total)(r);
        return;
    }
    double rs = 0.0, cs = 0.0;
    FGD_SIMD_REDUCTION(rs, cs)
    for (ptrdiff_t j = 0; j < n; j++) {
        double x = (double)g[j];
        double y = x > clip_value ? clip_value : (x < -clip_value ? -clip_value : x);
        rs += x * x;
        cs += y * y;
    }
    *raw = rs;
    *clipped = cs;
}

/* SGD for one buffer mode (a constant once inlined, so that each mode is its own
 * loop): 0 no momentum, 1 b = d, 2 b = momentum b + (1 - dampening) d.  The
 * direction d + momentum b (Nesterov, nesterov = 1) or b (nesterov = 0) is
 * nesterov d + heavy b.  nesterov arrives as a number, not a flag: a branch on it
 * lets GCC duplicate the loop per case, and the copy loses its "omp simd"
 * permission to vectorize the float64 reduction (measured 3x slower). */
FGD_INLINE double FGD_NAME(fgd_sgd_case)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                         FGD_T *FGD_RESTRICT buf, ptrdiff_t n, const fgd_coefficients *k,
                                         const int buffer)
{
    FGD_PREPARATION(k);
    const FGD_T lr = (FGD_T)k->c[0], momentum = (FGD_T)k->c[1], undamped = (FGD_T)1 - (FGD_T)k->c[2];
    const FGD_T nesterov = (FGD_T)k->c[3], heavy = (FGD_T)k->c[4];
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T direction = d;
                  if (buffer != 0) {
                      FGD_T b = buffer == 1 ? d : momentum * buf[i] + undamped * d;
                      buf[i] = b;
                      direction = nesterov * d + heavy * b;
                  }
                  p[i] = p[i] - lr * direction;)
}

FGD_DISPATCHED double FGD_NAME(fgd_sgd)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT state,
                                        ptrdiff_t stride, ptrdiff_t n, const fgd_coefficients *k)
{
    (void)stride;
    if (k->c[5] == 0.0)
        return FGD_NAME(fgd_sgd_case)(p, g, state, n, k, 0);
    return k->c[5] == 1.0 ? FGD_NAME(fgd_sgd_case)(p, g, state, n, k, 1) : FGD_NAME(fgd_sgd_case)(p, g, state, n, k, 2);
}

FGD_DISPATCHED double FGD_NAME(fgd_adagrad)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                            FGD_T *FGD_RESTRICT state, ptrdiff_t stride, ptrdiff_t n,
                                            const fgd_coefficients *k)
{
    FGD_PREPARATION(k);
    const FGD_T clr = (FGD_T)k->c[0], eps = (FGD_T)k->c[1];
    FGD_T *FGD_RESTRICT sum = state;
    (void)stride;
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T s = sum[i] + d * d;
                  sum[i] = s;
                  p[i] = p[i] - clr * d / (FGD_SQRT(s) + eps);)
}

/* RMSprop for one setting of centered and use_momentum (constants once inlined:
 * each case is its own loop, without branches, and vectorizes). */
FGD_INLINE double FGD_NAME(fgd_rmsprop_case)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                             FGD_T *FGD_RESTRICT v, FGD_T *FGD_RESTRICT buf, FGD_T *FGD_RESTRICT m,
                                             ptrdiff_t n, const fgd_coefficients *k, const int centered,
                                             const int use_momentum)
{
    FGD_PREPARATION(k);
    const FGD_T lr = (FGD_T)k->c[0], alpha = (FGD_T)k->c[1], eps = (FGD_T)k->c[2], momentum = (FGD_T)k->c[3];
    const FGD_T rest = (FGD_T)1 - alpha; /* alpha + rest = 1 exactly: v - m^2 cancels (else 10x the error) */
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T vi = alpha * v[i] + rest * d * d;
                  v[i] = vi;
                  FGD_T a = FGD_SQRT(vi) + eps;
                  if (centered) {
                      FGD_T mi = m[i] + rest * (d - m[i]);
                      m[i] = mi;
                      FGD_T var = vi - mi * mi;
                      a = FGD_SQRT(var > (FGD_T)0 ? var : (FGD_T)0) + eps;
                  }
                  if (use_momentum) {
                      FGD_T b = momentum * buf[i] + d / a;
                      buf[i] = b;
                      p[i] = p[i] - lr * b;
                  } else {
                      p[i] = p[i] - lr * d / a;
                  })
}

FGD_DISPATCHED double FGD_NAME(fgd_rmsprop)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                            FGD_T *FGD_RESTRICT state, ptrdiff_t stride, ptrdiff_t n,
                                            const fgd_coefficients *k)
{
    FGD_T *v = state, *buf = state + stride, *m = state + 2 * stride;
    if (k->c[4] != 0.0) /* centered */
        return k->c[3] > 0.0 ? FGD_NAME(fgd_rmsprop_case)(p, g, v, buf, m, n, k, 1, 1)
                             : FGD_NAME(fgd_rmsprop_case)(p, g, v, buf, m, n, k, 1, 0);
    return k->c[3] > 0.0 ? FGD_NAME(fgd_rmsprop_case)(p, g, v, buf, m, n, k, 0, 1)
                         : FGD_NAME(fgd_rmsprop_case)(p, g, v, buf, m, n, k, 0, 0);
}

/* Adam for one setting of amsgrad (a constant once inlined). */
FGD_INLINE double FGD_NAME(fgd_adam_case)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT m,
                                          FGD_T *FGD_RESTRICT v, FGD_T *FGD_RESTRICT vmax, ptrdiff_t n,
                                          const fgd_coefficients *k, const int amsgrad)
{
    FGD_PREPARATION(k);
    const FGD_T step_size = (FGD_T)k->c[0], bc2_sqrt = (FGD_T)k->c[1], decay = (FGD_T)k->c[2];
    const FGD_T rest1 = (FGD_T)k->c[3], beta2 = (FGD_T)k->c[4], rest2 = (FGD_T)k->c[5], eps = (FGD_T)k->c[6];
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T pi = p[i] * decay;
                  FGD_NAME(fgd_update_moments)(&m[i], &v[i], d, rest1, beta2, rest2);
                  FGD_T mi = m[i], vi = v[i];
                  if (amsgrad) {
                      vi = vmax[i] > vi ? vmax[i] : vi;
                      vmax[i] = vi;
                  }
                  p[i] = pi - step_size * mi / (FGD_SQRT(vi) / bc2_sqrt + eps);)
}

FGD_DISPATCHED double FGD_NAME(fgd_adam)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT state,
                                         ptrdiff_t stride, ptrdiff_t n, const fgd_coefficients *k)
{
    FGD_T *m = state, *v = state + stride, *vmax = state + 2 * stride;
    return k->c[7] != 0.0 ? FGD_NAME(fgd_adam_case)(p, g, m, v, vmax, n, k, 1)
                          : FGD_NAME(fgd_adam_case)(p, g, m, v, vmax, n, k, 0);
}

FGD_DISPATCHED double FGD_NAME(fgd_nadam)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                          FGD_T *FGD_RESTRICT state, ptrdiff_t stride, ptrdiff_t n,
                                          const fgd_coefficients *k)
{
    FGD_PREPARATION(k);
    const FGD_T grad_coef = (FGD_T)k->c[0], avg_coef = (FGD_T)k->c[1], bias_correction2 = (FGD_T)k->c[2];
    const FGD_T decay = (FGD_T)k->c[3], rest1 = (FGD_T)k->c[4], beta2 = (FGD_T)k->c[5], rest2 = (FGD_T)k->c[6];
    const FGD_T eps = (FGD_T)k->c[7];
    FGD_T *FGD_RESTRICT m = state, *FGD_RESTRICT v = state + stride;
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T pi = p[i] * decay;
                  FGD_NAME(fgd_update_moments)(&m[i], &v[i], d, rest1, beta2, rest2);
                  FGD_T mi = m[i], vi = v[i];
                  FGD_T denom = FGD_SQRT(vi / bias_correction2) + eps;
                  p[i] = pi - grad_coef * (d / denom) - avg_coef * (mi / denom);)
}

/* u = max(beta2 u, |d| + eps) propagates a NaN of d, as PyTorch's torch.maximum. */
FGD_DISPATCHED double FGD_NAME(fgd_adamax)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                           FGD_T *FGD_RESTRICT state, ptrdiff_t stride, ptrdiff_t n,
                                           const fgd_coefficients *k)
{
    FGD_PREPARATION(k);
    const FGD_T clr = (FGD_T)k->c[0], rest1 = (FGD_T)k->c[1], beta2 = (FGD_T)k->c[2], eps = (FGD_T)k->c[3];
    FGD_T *FGD_RESTRICT m = state, *FGD_RESTRICT u = state + stride;
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T mi = FGD_NAME(fgd_first_moment)(m[i], d, rest1);
                  FGD_T decayed = beta2 * u[i];
                  FGD_T bound = (d < 0 ? -d : d) + eps;
                  FGD_T ui = (bound > decayed || bound != bound) ? bound : decayed;
                  m[i] = mi;
                  u[i] = ui;
                  p[i] = p[i] - clr * (mi / ui);)
}

#undef FGD_PREPARATION
#undef FGD_PREPARED
