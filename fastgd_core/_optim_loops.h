/* The optimizer loops for one element type FGD_T (float or double), named by
 * FGD_NAME; included twice by _optim.h (a template, so that the "omp simd"
 * pragmas stay inside plain function bodies, where compilers honour them).
 *
 * The elementwise arithmetic is in FGD_T, as PyTorch's fused kernels do for
 * float32 (mixing float data with double arithmetic halves the vector width
 * and measured 3x slower); the hyper-parameters arrive converted to FGD_T by
 * the prototypes.  Sums of squares are accumulated in double. */

FGD_INLINE FGD_T FGD_NAME(fgd_prepared)(FGD_T p, FGD_T g, FGD_T clip_value, FGD_T grad_scale, FGD_T weight_decay)
{
    FGD_T c = g > clip_value ? clip_value : (g < -clip_value ? -clip_value : g);
    return c * grad_scale + weight_decay * p;
}

#define FGD_PREPARED(p) FGD_NAME(fgd_prepared)(p, gt, clip_value, grad_scale, weight_decay)

FGD_DISPATCHED void FGD_NAME(fgd_squared_norm)(const FGD_T *FGD_RESTRICT g, ptrdiff_t n, double clip_value,
                                               double *raw, double *clipped)
{
    double r = 0.0, c = 0.0;
    FGD_SIMD_REDUCTION(r, c)
    for (ptrdiff_t i = 0; i < n; i++) {
        double x = (double)g[i];
        double y = x > clip_value ? clip_value : (x < -clip_value ? -clip_value : x);
        r += x * x;
        c += y * y;
    }
    *raw = r;
    *clipped = c;
}

FGD_DISPATCHED double FGD_NAME(fgd_sgd)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT buf,
                                        ptrdiff_t n, FGD_T lr, FGD_T momentum, FGD_T dampening, FGD_T weight_decay,
                                        FGD_T nesterov, int first_step, FGD_T clip_value, FGD_T grad_scale)
{
    const FGD_T undamped = (FGD_T)1 - dampening;
    /* The direction d + momentum b (Nesterov, nesterov = 1) or b (nesterov = 0) is
     * nesterov d + heavy b.  nesterov arrives as a number, not a flag: a branch on it
     * lets GCC duplicate the loop per case, and the copy loses its "omp simd"
     * permission to vectorize the float64 reduction (measured 3x slower). */
    const FGD_T heavy = nesterov * momentum + ((FGD_T)1 - nesterov);
    if (buf == NULL) {
        FGD_LANE_LOOP(p[i] = p[i] - lr * FGD_PREPARED(p[i]);)
    } else if (first_step) {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      buf[i] = d;
                      p[i] = p[i] - lr * (nesterov * d + heavy * d);)
    } else {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      FGD_T b = momentum * buf[i] + undamped * d;
                      buf[i] = b;
                      p[i] = p[i] - lr * (nesterov * d + heavy * b);)
    }
}

FGD_DISPATCHED double FGD_NAME(fgd_adagrad)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT sum,
                                            ptrdiff_t n, FGD_T clr, FGD_T weight_decay, FGD_T eps, FGD_T clip_value,
                                            FGD_T grad_scale)
{
    FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                  FGD_T s = sum[i] + d * d;
                  sum[i] = s;
                  p[i] = p[i] - clr * d / (FGD_SQRT(s) + eps);)
}

FGD_DISPATCHED double FGD_NAME(fgd_rmsprop)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT v,
                                            FGD_T *FGD_RESTRICT buf, FGD_T *FGD_RESTRICT m, ptrdiff_t n, FGD_T lr,
                                            FGD_T alpha, FGD_T eps, FGD_T weight_decay, FGD_T momentum,
                                            FGD_T clip_value, FGD_T grad_scale)
{
    const FGD_T rest = (FGD_T)1 - alpha;
    if (m == NULL && buf == NULL) {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      FGD_T vi = alpha * v[i] + rest * d * d;
                      v[i] = vi;
                      p[i] = p[i] - lr * d / (FGD_SQRT(vi) + eps);)
    } else {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      FGD_T vi = alpha * v[i] + rest * d * d;
                      v[i] = vi;
                      FGD_T a;
                      if (m != NULL) {
                          FGD_T mi = m[i] + rest * (d - m[i]);
                          m[i] = mi;
                          FGD_T var = vi - mi * mi;
                          a = FGD_SQRT(var > (FGD_T)0 ? var : (FGD_T)0) + eps;
                      } else {
                          a = FGD_SQRT(vi) + eps;
                      }
                      if (buf != NULL) {
                          FGD_T b = momentum * buf[i] + d / a;
                          buf[i] = b;
                          p[i] = p[i] - lr * b;
                      } else {
                          p[i] = p[i] - lr * d / a;
                      })
    }
}

FGD_DISPATCHED double FGD_NAME(fgd_adam)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT m,
                                         FGD_T *FGD_RESTRICT v, FGD_T *FGD_RESTRICT vmax, ptrdiff_t n, double lr,
                                         FGD_T beta1, FGD_T beta2, FGD_T eps, double weight_decay_, int decoupled,
                                         double step, FGD_T clip_value, FGD_T grad_scale)
{
    const FGD_T step_size = (FGD_T)(lr / (1.0 - pow((double)beta1, step)));
    const FGD_T bc2_sqrt = (FGD_T)sqrt(1.0 - pow((double)beta2, step));
    const FGD_T weight_decay = (FGD_T)(decoupled ? 0.0 : weight_decay_);
    const FGD_T decay = (FGD_T)(decoupled ? 1.0 - lr * weight_decay_ : 1.0); /* p * 1 is exact */
    const FGD_T rest1 = (FGD_T)1 - beta1, rest2 = (FGD_T)1 - beta2;
    if (vmax == NULL) {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      FGD_T pi = p[i] * decay;
                      FGD_T mi = m[i] + rest1 * (d - m[i]);
                      FGD_T vi = beta2 * v[i] + rest2 * d * d;
                      m[i] = mi;
                      v[i] = vi;
                      p[i] = pi - step_size * mi / (FGD_SQRT(vi) / bc2_sqrt + eps);)
    } else {
        FGD_LANE_LOOP(FGD_T d = FGD_PREPARED(p[i]);
                      FGD_T pi = p[i] * decay;
                      FGD_T mi = m[i] + rest1 * (d - m[i]);
                      FGD_T vi = beta2 * v[i] + rest2 * d * d;
                      FGD_T vm = vmax[i] > vi ? vmax[i] : vi;
                      m[i] = mi;
                      v[i] = vi;
                      vmax[i] = vm;
                      p[i] = pi - step_size * mi / (FGD_SQRT(vm) / bc2_sqrt + eps);)
    }
}

#undef FGD_PREPARED
