/* The loss kernels of fastgd_core on untyped arrays, in chunks of rows.
 *
 * Each entry point takes is_float32 and void pointers (see _parallel.h),
 * splits the rows into chunks and runs the row kernels of _simd.h on them.
 * X is row-major (n, d); w, y, sample weights and outputs have X's type.
 */
#ifndef FASTGD_LOSSES_H
#define FASTGD_LOSSES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_parallel.h"
#include "_simd.h"

#define FGD_SIGMOID 0
#define FGD_LOG1PEXP 1

/* Loss and gradient sums of `loss` over rows [0, n), added to grad (d,) and
 * acc (loss, grad_b, weight): fgd_loss_grad_rows_f or _d. */
static inline void fgd_loss_grad_rows(int is_float32, int loss, const void *X, const void *y, const void *sw,
                                      ptrdiff_t n, ptrdiff_t d, const void *w, double b, double *grad, double *acc)
{
    FGD_TYPED(is_float32, fgd_loss_grad_rows, loss, X, y, sw, n, d, w, b, grad, acc);
}

/* The softmax cross-entropy of a block of rows (fgd_softmax_block_f or _d, see _simd_rows.h). */
static inline void fgd_softmax_block(int is_float32, const void *Z, const void *b, const void *y, const void *sw,
                                     ptrdiff_t m, ptrdiff_t k, void *G, double *e, double *top, double *acc)
{
    FGD_TYPED(is_float32, fgd_softmax_block, Z, b, y, sw, m, k, G, e, top, acc);
}

/* The arguments of a row kernel, shared by its chunks. */
typedef struct {
    int is_float32, loss;
    const void *X, *y, *sw, *w; /* sw may be NULL (unit weights) */
    ptrdiff_t d;
    double b;
    void *out;        /* linear_predict: (n,) */
    double *part;     /* loss_grad: per chunk, at part + c * stride: loss, grad_b, weight, grad[d] */
    ptrdiff_t stride;
} fgd_rows_job;

/* Doubles per chunk of a loss and gradient's partial sums (loss, grad_b, weight, grad[d]): whole cache lines,
 * so that chunks on different threads share none. */
static inline ptrdiff_t fgd_part_stride(ptrdiff_t d) { return (d + 3 + 7) / 8 * 8; }

static inline void fgd_loss_grad_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_rows_job *job = job_;
    int f32 = job->is_float32;
    double *acc = job->part + c * job->stride;
    memset(acc, 0, job->stride * sizeof(double));
    fgd_loss_grad_rows(f32, job->loss, fgd_at(job->X, lo * job->d, f32), fgd_at(job->y, lo, f32),
                       job->sw == NULL ? NULL : fgd_at(job->sw, lo, f32), hi - lo, job->d, job->w, job->b,
                       acc + 3, acc);
}

#define FGD_PREFETCH_ROWS 16 /* rows gathered ahead: random rows are latency-bound, not bandwidth-bound */

/* A mini-batch's loss and gradient: its rows gathered from the data, then the row kernel, by chunks of rows. */
typedef struct {
    fgd_rows_job rows;               /* X, y, sw: the gathered copies (m rows); part, stride: per-chunk sums */
    const void *X_all, *y_all, *sw_all;
    const int64_t *order;            /* the batch's rows in the data */
    ptrdiff_t ahead;                 /* entries of order[] that exist from the batch's start (prefetching) */
} fgd_batch_job;

static inline void fgd_gather_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_batch_job *job = job_;
    size_t item = job->rows.is_float32 ? sizeof(float) : sizeof(double), row = job->rows.d * item;
    for (ptrdiff_t r = lo; r < hi; r++) {
        if (r + FGD_PREFETCH_ROWS < job->ahead) {
            const char *next = (const char *)job->X_all + job->order[r + FGD_PREFETCH_ROWS] * row;
            for (size_t offset = 0; offset < row; offset += 64)
                FGD_PREFETCH(next + offset);
        }
        int64_t i = job->order[r];
        memcpy((char *)job->rows.X + r * row, (const char *)job->X_all + i * row, row);
        memcpy((char *)job->rows.y + r * item, (const char *)job->y_all + i * item, item);
        if (job->sw_all != NULL)
            memcpy((char *)job->rows.sw + r * item, (const char *)job->sw_all + i * item, item);
    }
    fgd_loss_grad_chunk((void *)&job->rows, c, lo, hi);
}

/* The rows order[0, m) of X (d columns), y and sw (NULL: unit weights) gathered into Xb, yb and sb, and their
 * loss and gradient sums added to grad (d,) and acc (loss, grad_b, weight) as by fgd_loss_grad_rows, by
 * `chunks` chunks of rows on threads, each into part + c * stride (fgd_part_stride), added in chunk order:
 * one chunk gives the serial sums exactly.  `ahead` bounds the prefetching: order[ahead - 1] is the last row. */
static inline void fgd_gathered_loss_grad(int is_float32, int loss, const void *X, const void *y, const void *sw,
                                          const int64_t *order, ptrdiff_t m, ptrdiff_t ahead, ptrdiff_t d,
                                          const void *w, double b, void *Xb, void *yb, void *sb, double *part,
                                          ptrdiff_t stride, int chunks, double *grad, double *acc)
{
    fgd_batch_job job = {{is_float32, loss, Xb, yb, sw == NULL ? NULL : sb, w, d, b, NULL, part, stride},
                         X, y, sw, order, ahead};
    fgd_run_chunks(fgd_gather_chunk, &job, m, chunks);
    for (int c = 0; c < chunks; c++) {
        const double *sums = part + c * stride;
        for (int k = 0; k < 3; k++)
            acc[k] += sums[k];
        for (ptrdiff_t j = 0; j < d; j++)
            grad[j] += sums[3 + j];
    }
}

/* Weighted means of `loss` (FGD_LOGISTIC or FGD_SQUARED, see _simd_rows.h)
 * and its gradient at z = X w + b: writes grad_w[j] = sum_i s_i dl/dz_i X[i, j] / S
 * and result = (sum_i s_i l_i / S, sum_i s_i dl/dz_i / S), S = sum_i s_i.
 * Returns 0, or -1 when the scratch (chunks x (d + 3) doubles) cannot be allocated. */
static inline int fgd_loss_grad(int is_float32, int loss, const void *X, const void *y, const void *sw, ptrdiff_t n,
                         ptrdiff_t d, const void *w, double b, void *grad_w, int n_threads, double *result)
{
    int chunks = fgd_n_chunks(n_threads, n, n * (d > 0 ? d : 1), FGD_MIN_WORK);
    ptrdiff_t stride = fgd_part_stride(d);
    void *scratch = malloc((chunks * stride + 8) * sizeof(double));
    if (scratch == NULL)
        return -1;
    double *part = (double *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    fgd_rows_job job = {is_float32, loss, X, y, sw, w, d, b, NULL, part, stride};
    fgd_run_chunks(fgd_loss_grad_chunk, &job, n, chunks);
    double total[3] = {0.0, 0.0, 0.0};
    for (int c = 0; c < chunks; c++)
        for (int k = 0; k < 3; k++)
            total[k] += part[c * stride + k];
    for (ptrdiff_t j = 0; j < d; j++) {
        double g = 0.0;
        for (int c = 0; c < chunks; c++)
            g += part[c * stride + 3 + j];
        fgd_store(grad_w, j, g / total[2], is_float32);
    }
    free(scratch);
    result[0] = total[0] / total[2];
    result[1] = total[1] / total[2];
    return 0;
}

static inline void fgd_predict_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_rows_job *job = job_;
    int f32 = job->is_float32;
    (void)c;
    FGD_TYPED(f32, fgd_predict_rows, fgd_at(job->X, lo * job->d, f32), hi - lo, job->d, job->w, job->b,
              fgd_at(job->out, lo, f32));
}

/* out[i] = X[i] . w + b, summed in double. */
static inline void fgd_linear_predict(int is_float32, const void *X, ptrdiff_t n, ptrdiff_t d, const void *w, double b,
                               void *out, int n_threads)
{
    fgd_rows_job job = {is_float32, 0, X, NULL, NULL, w, d, b, out, NULL, 0};
    fgd_run_chunks(fgd_predict_chunk, &job, n, fgd_n_chunks(n_threads, n, n * (d > 0 ? d : 1), FGD_MIN_WORK));
}

/* The arguments of an elementwise function, shared by its chunks. */
typedef struct {
    int is_float32, kind;
    const void *z;
    void *out;
} fgd_elementwise_job;

static inline void fgd_elementwise_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi)
{
    const fgd_elementwise_job *job = job_;
    int f32 = job->is_float32;
    const void *z = fgd_at(job->z, lo, f32);
    void *out = fgd_at(job->out, lo, f32);
    (void)c;
    if (job->kind == FGD_SIGMOID)
        FGD_TYPED(f32, fgd_sigmoid_array, z, out, hi - lo);
    else
        FGD_TYPED(f32, fgd_log1pexp_array, z, out, hi - lo);
}

/* out[i] = f(z[i]) for f = sigmoid (kind FGD_SIGMOID) or log1pexp (FGD_LOG1PEXP); out may be z. */
static inline void fgd_elementwise(int is_float32, int kind, const void *z, void *out, ptrdiff_t n, int n_threads)
{
    fgd_elementwise_job job = {is_float32, kind, z, out};
    /* an exp and a log1p cost about 8 multiply-adds */
    fgd_run_chunks(fgd_elementwise_chunk, &job, n, fgd_n_chunks(n_threads, n, 8 * n, FGD_MIN_WORK));
}

#endif /* FASTGD_LOSSES_H */
