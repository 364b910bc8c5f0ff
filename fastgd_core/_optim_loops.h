/* The optimizer loops for one element type FGD_T (float or double), named by
 * FGD_NAME; included twice by _optim.h (a template, so that the "omp simd"
 * pragmas stay inside plain function bodies, where compilers honour them). */

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
                                       ptrdiff_t n, double lr, double momentum, double dampening,
                                       double weight_decay, int nesterov, int first_step,
                                       double clip_value, double grad_scale)
{
    if (buf == NULL) {
        FGD_LANE_LOOP(p[i] = (FGD_T)((double)p[i]
                     - lr * fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay));)
    } else if (first_step) {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);
                      buf[i] = (FGD_T)d;
                      double b = (double)buf[i];
                      p[i] = (FGD_T)((double)p[i] - lr * (nesterov ? d + momentum * b : b));)
    } else {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);
                      buf[i] = (FGD_T)(momentum * (double)buf[i] + (1.0 - dampening) * d);
                      double b = (double)buf[i];
                      p[i] = (FGD_T)((double)p[i] - lr * (nesterov ? d + momentum * b : b));)
    }
}

FGD_DISPATCHED double FGD_NAME(fgd_adagrad)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                           FGD_T *FGD_RESTRICT sum, ptrdiff_t n, double clr,
                                           double weight_decay, double eps, double clip_value,
                                           double grad_scale)
{
    FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);
                  sum[i] = (FGD_T)((double)sum[i] + d * d);
                  p[i] = (FGD_T)((double)p[i] - clr * d / (sqrt((double)sum[i]) + eps));)
}

FGD_DISPATCHED double FGD_NAME(fgd_rmsprop)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g,
                                           FGD_T *FGD_RESTRICT v, FGD_T *FGD_RESTRICT buf, FGD_T *FGD_RESTRICT m,
                                           ptrdiff_t n, double lr, double alpha, double eps,
                                           double weight_decay, double momentum, double clip_value,
                                           double grad_scale)
{
    int centered = m != NULL, with_momentum = buf != NULL;
    if (!centered && !with_momentum) {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);
                      v[i] = (FGD_T)(alpha * (double)v[i] + (1.0 - alpha) * d * d);
                      double a = sqrt((double)v[i]) + eps;
                      p[i] = (FGD_T)((double)p[i] - lr * d / a);)
    } else {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, weight_decay);
                      v[i] = (FGD_T)(alpha * (double)v[i] + (1.0 - alpha) * d * d);
                      double a;
                      if (centered) {
                          double mi = (double)m[i];
                          m[i] = (FGD_T)(mi + (1.0 - alpha) * (d - mi));
                          mi = (double)m[i];
                          double var = (double)v[i] - mi * mi;
                          a = sqrt(var > 0.0 ? var : 0.0) + eps;
                      } else {
                          a = sqrt((double)v[i]) + eps;
                      }
                      if (with_momentum) {
                          buf[i] = (FGD_T)(momentum * (double)buf[i] + d / a);
                          p[i] = (FGD_T)((double)p[i] - lr * (double)buf[i]);
                      } else {
                          p[i] = (FGD_T)((double)p[i] - lr * d / a);
                      })
    }
}

FGD_DISPATCHED double FGD_NAME(fgd_adam)(FGD_T *FGD_RESTRICT p, const FGD_T *FGD_RESTRICT g, FGD_T *FGD_RESTRICT m,
                                        FGD_T *FGD_RESTRICT v, FGD_T *FGD_RESTRICT vmax, ptrdiff_t n,
                                        double lr, double beta1, double beta2, double eps,
                                        double weight_decay, int decoupled, double step,
                                        double clip_value, double grad_scale)
{
    double step_size = lr / (1.0 - pow(beta1, step));
    double bc2_sqrt = sqrt(1.0 - pow(beta2, step));
    double l2 = decoupled ? 0.0 : weight_decay;
    double decay = decoupled ? 1.0 - lr * weight_decay : 1.0;
    if (vmax == NULL) {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, l2);
                      double pi = (double)(FGD_T)((double)p[i] * decay);
                      double mi = (double)m[i];
                      m[i] = (FGD_T)(mi + (1.0 - beta1) * (d - mi));
                      v[i] = (FGD_T)(beta2 * (double)v[i] + (1.0 - beta2) * d * d);
                      p[i] = (FGD_T)(pi - step_size * (double)m[i] / (sqrt((double)v[i]) / bc2_sqrt + eps));)
    } else {
        FGD_LANE_LOOP(double d = fgd_prepared((double)p[i], gi, clip_value, grad_scale, l2);
                      double pi = (double)(FGD_T)((double)p[i] * decay);
                      double mi = (double)m[i];
                      m[i] = (FGD_T)(mi + (1.0 - beta1) * (d - mi));
                      v[i] = (FGD_T)(beta2 * (double)v[i] + (1.0 - beta2) * d * d);
                      double vm = (double)vmax[i], vi = (double)v[i];
                      vmax[i] = (FGD_T)(vm > vi ? vm : vi);
                      p[i] = (FGD_T)(pi - step_size * (double)m[i] / (sqrt((double)vmax[i]) / bc2_sqrt + eps));)
    }
}
