/* Fused optimizer updates of fastgd_core: one pass over p, g and the state.
 *
 * An optimizer is a code (its index in fgd_optimizers, the same as in
 * fastgd.optim) and two functions:
 *
 * - fgd_<name>_coefficients(hyper, t, scalars, k) runs once per call, before
 *   any chunk: from the packed hyper-parameters, the step t (from 1) and the
 *   scalar state (read and updated here, never per chunk) it fills k: the L2
 *   weight decay of the prepared gradient and the loop's coefficients k->c
 *   (bias corrections, decayed rates, flags);
 * - fgd_<name>_f / _d (_optim_loops.h, per element type, in each instruction
 *   set's variant: fgd_<name>_f_v0, _v3, _v4, see _dispatch.h) update the elements
 *   [0, n) of p and of the state rows state[r * stride + i] from the prepared
 *   gradient, and return the raw gradient's sum of squares.
 *
 * The prepared gradient is clamp(g, -clip_value, clip_value) * grad_scale
 * + weight_decay * p; a state row whose setting is off is neither read nor
 * written.  Adding an optimizer: its two functions here and in
 * _optim_loops.h, and its FGD_OPTIMIZER line in fgd_optimizers.
 */
#ifndef FASTGD_OPTIM_H
#define FASTGD_OPTIM_H

#include "_parallel.h"
#include "_simd.h"

#define FGD_MAX_COEFFICIENTS 12

/* What an update loop reads besides the arrays. */
typedef struct {
    double clip_value, grad_scale, weight_decay; /* the gradient preparation */
    double c[FGD_MAX_COEFFICIENTS];             /* the optimizer's own, in the order its loop reads them */
} fgd_coefficients;

/* SGD, hyper (lr, momentum, dampening, weight_decay, nesterov), state (momentum_buffer),
 * scalars (momentum_buffer_ready).  c = (lr, momentum, dampening, nesterov,
 * heavy, buffer) with the direction nesterov d + heavy b (heavy = momentum for
 * Nesterov, 1 otherwise) and buffer 0: no momentum (the row and the scalar
 * are left alone), 1: b = d (the first step), 2: b = momentum b + (1 - dampening) d. */
static inline void fgd_sgd_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    double lr = hyper[0], momentum = hyper[1], dampening = hyper[2], nesterov = hyper[4];
    (void)t;
    k->weight_decay = hyper[3];
    k->c[0] = lr;
    k->c[1] = momentum;
    k->c[2] = dampening;
    k->c[3] = nesterov;
    k->c[4] = nesterov * momentum + (1.0 - nesterov);
    k->c[5] = 0.0;
    if (momentum > 0.0) {
        k->c[5] = scalars[0] == 0.0 ? 1.0 : 2.0;
        scalars[0] = 1.0;
    }
}

/* Adagrad, hyper (lr, lr_decay, weight_decay, eps), state (sum).
 * c = (clr, eps) with clr = lr / (1 + (t - 1) lr_decay). */
static inline void fgd_adagrad_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    (void)scalars;
    k->weight_decay = hyper[2];
    k->c[0] = hyper[0] / (1.0 + (t - 1.0) * hyper[1]);
    k->c[1] = hyper[3];
}

/* RMSprop, hyper (lr, alpha, eps, weight_decay, momentum, centered),
 * state (square_avg, momentum_buffer, grad_avg).  c = (lr, alpha, eps,
 * momentum, centered); the momentum row is used when momentum > 0, the
 * grad_avg row when centered. */
static inline void fgd_rmsprop_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    (void)t;
    (void)scalars;
    k->weight_decay = hyper[3];
    k->c[0] = hyper[0];
    k->c[1] = hyper[1];
    k->c[2] = hyper[2];
    k->c[3] = hyper[4] > 0.0 ? hyper[4] : 0.0;
    k->c[4] = hyper[5];
}

/* Adam, hyper (lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay),
 * state (exp_avg, exp_avg_sq, max_exp_avg_sq).  c = (step_size, bc2_sqrt,
 * decay, 1 - beta1, beta2, 1 - beta2, eps, amsgrad) with step_size =
 * lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t), and for decoupled decay
 * (AdamW) decay = 1 - lr weight_decay and no L2 term (else decay = 1).
 * 1 - beta is rounded once from double, as the bias corrections: in float,
 * 1 - 0.999f is 1e-5 off and measured 10x the error. */
static inline void fgd_adam_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    double lr = hyper[0], beta1 = hyper[1], beta2 = hyper[2], weight_decay = hyper[4];
    int decoupled = hyper[6] != 0.0;
    (void)scalars;
    k->weight_decay = decoupled ? 0.0 : weight_decay;
    k->c[0] = lr / (1.0 - pow(beta1, t));
    k->c[1] = sqrt(1.0 - pow(beta2, t));
    k->c[2] = decoupled ? 1.0 - lr * weight_decay : 1.0; /* p * 1 is exact */
    k->c[3] = 1.0 - beta1;
    k->c[4] = beta2;
    k->c[5] = 1.0 - beta2;
    k->c[6] = hyper[3];
    k->c[7] = hyper[5];
}

/* NAdam, hyper (lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay),
 * state (exp_avg, exp_avg_sq), scalars (mu_product).  With mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay)),
 * mu_product *= mu_t here; c = (grad_coef, avg_coef, bias_correction2, decay, 1 - beta1, beta2, 1 - beta2, eps)
 * with grad_coef = lr (1 - mu_t) / (1 - mu_product), avg_coef = lr mu_{t+1} / (1 - mu_product mu_{t+1}),
 * bias_correction2 = 1 - beta2^t and decay as Adam's. */
static inline void fgd_nadam_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    double lr = hyper[0], beta1 = hyper[1], beta2 = hyper[2], weight_decay = hyper[4], momentum_decay = hyper[5];
    int decoupled = hyper[6] != 0.0;
    double mu = beta1 * (1.0 - 0.5 * pow(0.96, t * momentum_decay));
    double mu_next = beta1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * momentum_decay));
    scalars[0] *= mu;
    k->weight_decay = decoupled ? 0.0 : weight_decay;
    k->c[0] = lr * (1.0 - mu) / (1.0 - scalars[0]);
    k->c[1] = lr * mu_next / (1.0 - scalars[0] * mu_next);
    k->c[2] = 1.0 - pow(beta2, t);
    k->c[3] = decoupled ? 1.0 - lr * weight_decay : 1.0;
    k->c[4] = 1.0 - beta1;
    k->c[5] = beta2;
    k->c[6] = 1.0 - beta2;
    k->c[7] = hyper[3];
}

/* Adamax, hyper (lr, beta1, beta2, eps, weight_decay), state (exp_avg, exp_inf).
 * c = (clr, 1 - beta1, beta2, eps) with clr = lr / (1 - beta1^t). */
static inline void fgd_adamax_coefficients(const double *hyper, double t, double *scalars, fgd_coefficients *k)
{
    (void)scalars;
    k->weight_decay = hyper[4];
    k->c[0] = hyper[0] / (1.0 - pow(hyper[1], t));
    k->c[1] = 1.0 - hyper[1];
    k->c[2] = hyper[2];
    k->c[3] = hyper[3];
}

/* "omp simd reduction" lets the compiler vectorize the sum of squares without
 * -ffast-math (active with -fopenmp or -fopenmp-simd, ignored otherwise).
 * Not with MSVC: its /openmp (OpenMP 2.0) has no simd construct, and its
 * traditional preprocessor no _Pragma (clang-cl has both). */
#if (defined(_OPENMP) || defined(FGD_OPENMP_SIMD)) && (!defined(_MSC_VER) || defined(__clang__))
#  define FGD_SIMD_REDUCTION(...) _Pragma(FGD_STR_PRAGMA(omp simd reduction(+:__VA_ARGS__)))
#  define FGD_SIMD _Pragma("omp simd")
#  define FGD_STR_PRAGMA(...) #__VA_ARGS__
#else
#  define FGD_SIMD_REDUCTION(...)
#  define FGD_SIMD
#endif

/* The update loop over [0, n): the body sees i and gt = g[i]; the raw sum of
 * squares is accumulated alongside, in double, in FGD_NORM_LANES independent
 * lanes (one accumulator chained every addition to the one before: the loop
 * waited on it), added pairwise at the end, then the tail: a fixed order. */
#define FGD_LANE_LOOP(...)                                                  \
    double lanes_[FGD_NORM_LANES] = {0.0}, tail_ = 0.0;                     \
    ptrdiff_t start_ = 0;                                                   \
    for (; start_ + FGD_NORM_LANES <= n; start_ += FGD_NORM_LANES) {        \
        FGD_SIMD                                                            \
        for (ptrdiff_t q_ = 0; q_ < FGD_NORM_LANES; q_++) {                 \
            ptrdiff_t i = start_ + q_;                                      \
            FGD_T gt = g[i];                                                \
            lanes_[q_] += (double)gt * (double)gt;                          \
            __VA_ARGS__                                                     \
        }                                                                   \
    }                                                                       \
    for (ptrdiff_t i = start_; i < n; i++) {                                \
        FGD_T gt = g[i];                                                    \
        tail_ += (double)gt * (double)gt;                                   \
        __VA_ARGS__                                                         \
    }                                                                       \
    return FGD_NAME(fgd_lanes_total)(lanes_) + tail_;

#define FGD_TEMPLATE "_optim_loops.h"
#define FGD_T double
#define FGD_SUFFIX _d
#define FGD_SQRT sqrt
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#undef FGD_SQRT
#define FGD_T float
#define FGD_SUFFIX _f
#define FGD_SQRT sqrtf
#include "_instances.h"
#undef FGD_T
#undef FGD_SUFFIX
#undef FGD_SQRT
#undef FGD_TEMPLATE

/* The optimizers, by code. */
typedef struct {
    void (*coefficients)(const double *hyper, double t, double *scalars, fgd_coefficients *k);
    double (*loop_f[FGD_N_ISA])(float *p, const float *g, float *state, ptrdiff_t stride, ptrdiff_t n,
                                const fgd_coefficients *k);
    double (*loop_d[FGD_N_ISA])(double *p, const double *g, double *state, ptrdiff_t stride, ptrdiff_t n,
                                const fgd_coefficients *k);
} fgd_optimizer; /* loop_f[isa], loop_d[isa]: the update loop in each instruction set's variant */

#define FGD_OPTIMIZER(name) \
    {fgd_##name##_coefficients, FGD_ISA_TABLE(fgd_##name##_f), FGD_ISA_TABLE(fgd_##name##_d)}
static const fgd_optimizer fgd_optimizers[] = {
    FGD_OPTIMIZER(sgd),     /* 0 */
    FGD_OPTIMIZER(adagrad), /* 1 */
    FGD_OPTIMIZER(rmsprop), /* 2 */
    FGD_OPTIMIZER(adam),    /* 3 */
    FGD_OPTIMIZER(nadam),   /* 4 */
    FGD_OPTIMIZER(adamax),  /* 5 */
};

/* ------------------------------------------------ entry points, in chunks */

/* The arguments of an update, shared by its chunks. */
typedef struct {
    const fgd_optimizer *optimizer;
    int is_float32;
    void *p, *state;
    const void *g;
    ptrdiff_t stride;
    const fgd_coefficients *k;
    double *partial; /* per chunk: the raw sum of squares */
} fgd_update_job;

static inline void fgd_update_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_update_job *job = job_;
    int f32 = job->is_float32;
    if (f32)
        job->partial[c] = job->optimizer->loop_f[fgd_isa]((float *)fgd_at(job->p, lo, 1), fgd_at(job->g, lo, 1),
                                                          fgd_at(job->state, lo, 1), job->stride, hi - lo, job->k);
    else
        job->partial[c] = job->optimizer->loop_d[fgd_isa]((double *)fgd_at(job->p, lo, 0), fgd_at(job->g, lo, 0),
                                                          fgd_at(job->state, lo, 0), job->stride, hi - lo, job->k);
}

/* Step t of optimizer `code` on p[0, n) in `chunks` chunks (see fgd_optimizer_update). */
static inline double fgd_optimizer_update_in_chunks(int is_float32, int code, void *p, const void *g, void *state,
                                                    ptrdiff_t stride, ptrdiff_t n, const double *hyper, double t,
                                                    double *scalars, double clip_value, double grad_scale, int chunks)
{
    const fgd_optimizer *optimizer = &fgd_optimizers[code];
    fgd_coefficients k; /* not zeroed (a measurable cost per mini-batch): each optimizer sets its own */
    double partial[FGD_MAX_CHUNKS];
    fgd_update_job job = {optimizer, is_float32, p, state, g, stride, &k, partial};
    k.clip_value = clip_value;
    k.grad_scale = grad_scale;
    optimizer->coefficients(hyper, t, scalars, &k);
    fgd_run_chunks(fgd_update_chunk, &job, n, chunks);
    return fgd_sum_chunks(partial, chunks);
}

/* Step t of optimizer `code` on p[0, n) with state rows state[r * stride + i]
 * and the scalar state scalars (read and updated once); the gradient g is
 * prepared with clip_value and grad_scale.  Returns the raw gradient's sum of
 * squares. */
static inline double fgd_optimizer_update(int is_float32, int code, void *p, const void *g, void *state,
                                          ptrdiff_t stride, ptrdiff_t n, const double *hyper, double t,
                                          double *scalars, double clip_value, double grad_scale, int n_threads)
{
    return fgd_optimizer_update_in_chunks(is_float32, code, p, g, state, stride, n, hyper, t, scalars, clip_value,
                                          grad_scale, fgd_n_chunks(n_threads, n, n, FGD_MIN_ELEMENTS));
}

/* The arguments of a squared norm, shared by its chunks. */
typedef struct {
    int is_float32;
    const void *g;
    double clip_value;
    double *raw, *clipped; /* per chunk */
} fgd_norm_job;

static inline void fgd_squared_norm_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_norm_job *job = job_;
    FGD_TYPED(job->is_float32, fgd_squared_norm_range, fgd_at(job->g, lo, job->is_float32), hi - lo,
              job->clip_value, &job->raw[c], &job->clipped[c]);
}

/* raw = sum_i g_i^2 and clipped = sum_i clamp(g_i, -clip_value, clip_value)^2 over [0, n), in double. */
static inline void fgd_squared_norm(int is_float32, const void *g, ptrdiff_t n, double clip_value, int n_threads,
                                    double *raw, double *clipped)
{
    double raw_part[FGD_MAX_CHUNKS], clipped_part[FGD_MAX_CHUNKS];
    fgd_norm_job job = {is_float32, g, clip_value, raw_part, clipped_part};
    int chunks = fgd_n_chunks(n_threads, n, n, FGD_MIN_ELEMENTS);
    fgd_run_chunks(fgd_squared_norm_chunk, &job, n, chunks);
    *raw = fgd_sum_chunks(raw_part, chunks);
    *clipped = fgd_sum_chunks(clipped_part, chunks);
}

#endif
