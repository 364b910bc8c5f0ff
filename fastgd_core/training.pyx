"""Training kernel of fastgd, compiled: a whole mini-batch epoch (``_spec.minibatch_epoch``).

Per batch, without the GIL: the rows ``order[k B : (k + 1) B]`` are gathered
into a small buffer (then read in order, from cache), the fused
loss+gradient row kernel of ``_simd.h`` runs on it, the L2 penalty is added,
the (d + 1) gradient is clipped by value and by norm, and the optimizer's
fused update of ``_optim.h`` is applied.  The epoch is serial: one batch is
too small for threads to pay.
"""

from cython cimport floating
from libc.math cimport INFINITY, isinf, pow, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastgd_core._optim cimport *

from fastgd_core._simd cimport fgd_loss_grad_rows_d, fgd_loss_grad_rows_f

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #  define FGD_PREFETCH(p) __builtin_prefetch(p)
    #else
    #  define FGD_PREFETCH(p) ((void)0)
    #endif
    """
    void FGD_PREFETCH(const void *p) nogil

cdef enum:
    PREFETCH_ROWS = 16  # rows gathered ahead: random rows are latency-bound, not bandwidth-bound
    SGD = 0
    ADAGRAD = 1
    RMSPROP = 2
    ADAM = 3


cdef inline void _prefetch_row(const char *row, Py_ssize_t n_bytes) noexcept nogil:
    """Ask for every cache line of a row that will be gathered soon."""
    cdef Py_ssize_t offset
    for offset in range(0, n_bytes, 64):
        FGD_PREFETCH(row + offset)


cdef void _update(int code, const double *hyper, floating *params, const floating *g, floating *state,
                  Py_ssize_t n, double t, double clip_value, double grad_scale) noexcept nogil:
    """Optimizer ``code`` (``_spec.OPTIMIZER_CODES``) at step t on the (d + 1) vector; no weight decay.
    ``state`` holds three rows of n; ``hyper`` is laid out as ``_spec.HYPER_LAYOUT``."""
    cdef floating *row0 = state
    cdef floating *row1 = state + n
    cdef floating *row2 = state + 2 * n
    if code == SGD:
        if floating is double:
            fgd_sgd_d(params, g, row0 if hyper[1] != 0.0 else NULL, n, hyper[0], hyper[1], hyper[2], 0.0,
                      hyper[3] != 0.0, t == 1.0, clip_value, grad_scale)
        else:
            fgd_sgd_f(params, g, row0 if hyper[1] != 0.0 else NULL, n, hyper[0], hyper[1], hyper[2], 0.0,
                      hyper[3] != 0.0, t == 1.0, clip_value, grad_scale)
    elif code == ADAGRAD:
        if floating is double:
            fgd_adagrad_d(params, g, row0, n, hyper[0] / (1.0 + (t - 1.0) * hyper[1]), 0.0, hyper[2], clip_value,
                          grad_scale)
        else:
            fgd_adagrad_f(params, g, row0, n, hyper[0] / (1.0 + (t - 1.0) * hyper[1]), 0.0, hyper[2], clip_value,
                          grad_scale)
    elif code == RMSPROP:
        if floating is double:
            fgd_rmsprop_d(params, g, row0, row1 if hyper[3] > 0.0 else NULL, row2 if hyper[4] != 0.0 else NULL,
                          n, hyper[0], hyper[1], hyper[2], 0.0, hyper[3], clip_value, grad_scale)
        else:
            fgd_rmsprop_f(params, g, row0, row1 if hyper[3] > 0.0 else NULL, row2 if hyper[4] != 0.0 else NULL,
                          n, hyper[0], hyper[1], hyper[2], 0.0, hyper[3], clip_value, grad_scale)
    else:
        if floating is double:
            fgd_adam_d(params, g, row0, row1, row2 if hyper[4] != 0.0 else NULL, n, hyper[0], hyper[1], hyper[2],
                       hyper[3], 0.0, 0, t, clip_value, grad_scale)
        else:
            fgd_adam_f(params, g, row0, row1, row2 if hyper[4] != 0.0 else NULL, n, hyper[0], hyper[1], hyper[2],
                       hyper[3], 0.0, 0, t, clip_value, grad_scale)


def minibatch_epoch(const floating[:, ::1] X, const floating[::1] y, const floating[::1] sample_weight,
                    const int64_t[::1] order, floating[::1] params, floating[:, ::1] state,
                    double[::1] grad_mean, *, int loss, int optimizer, const double[::1] hyper, long step,
                    Py_ssize_t batch_size, double alpha, bint fit_intercept, double clip_value,
                    double clip_norm, int n_threads):
    """One epoch of mini-batch training, every step compiled.

    For each batch (its weights s, the batch's own weighted means):
    ``(l, g_w, g_b) = loss_grad(X_batch, y_batch, w, b, s)``; ``l += alpha/2 ||w||^2``,
    ``g_w += alpha w``, ``g_b = 0`` unless ``fit_intercept``; clip by value, then
    by ``min(1, clip_norm / (||g|| + 1e-6))``; the optimizer update at step
    ``step + k + 1``.  A batch of zero weight is skipped.  Writes the mean batch
    gradient into ``grad_mean`` and returns ``(weighted mean loss, n_steps)``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], rows = batch_size if batch_size < n else n
    cdef Py_ssize_t start, m, r, j, n_steps = 0
    cdef int64_t i
    cdef double acc[3]
    cdef double penalty, wj, raw, clipped, grad_scale, loss_sum = 0.0, weight_sum = 0.0
    cdef bint weighted = sample_weight is not None
    cdef floating *Xb = <floating *> malloc(rows * (d if d > 0 else 1) * sizeof(floating))
    cdef floating *yb = <floating *> malloc(rows * sizeof(floating))
    cdef floating *sb = <floating *> malloc(rows * sizeof(floating))
    cdef floating *g = <floating *> malloc((d + 1) * sizeof(floating))
    cdef double *sums = <double *> malloc((d + 1) * sizeof(double))
    cdef double *grad_sum = <double *> malloc((d + 1) * sizeof(double))
    if Xb == NULL or yb == NULL or sb == NULL or g == NULL or sums == NULL or grad_sum == NULL:
        free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum)
        raise MemoryError()
    cdef const floating *Xp = &X[0, 0]
    cdef floating *pp = &params[0]
    cdef floating *sp = &state[0, 0]
    cdef const double *hp = &hyper[0]
    with nogil:
        for j in range(d + 1):
            grad_sum[j] = 0.0
        start = 0
        while start < n:
            m = batch_size if batch_size < n - start else n - start
            for r in range(m):
                if start + r + PREFETCH_ROWS < n:
                    _prefetch_row(<const char *> (Xp + order[start + r + PREFETCH_ROWS] * d), d * sizeof(floating))
                i = order[start + r]
                memcpy(Xb + r * d, Xp + i * d, d * sizeof(floating))
                yb[r] = y[i]
                if weighted:
                    sb[r] = sample_weight[i]
            start += m
            for j in range(d):
                sums[j] = 0.0
            acc[0] = acc[1] = acc[2] = 0.0
            if floating is double:
                fgd_loss_grad_rows_d(loss, Xb, yb, sb if weighted else NULL, m, d, pp, pp[d], sums, acc)
            else:
                fgd_loss_grad_rows_f(loss, Xb, yb, sb if weighted else NULL, m, d, pp, pp[d], sums, acc)
            if acc[2] == 0.0:
                continue
            penalty = 0.0
            for j in range(d):
                wj = pp[j]
                penalty += wj * wj
                g[j] = <floating> (sums[j] / acc[2])
                g[j] = <floating> (g[j] + alpha * wj)
            g[d] = <floating> (acc[1] / acc[2]) if fit_intercept else 0
            grad_scale = 1.0
            if not isinf(clip_norm):
                if floating is double:
                    fgd_squared_norm_d(g, d + 1, clip_value, &raw, &clipped)
                else:
                    fgd_squared_norm_f(g, d + 1, clip_value, &raw, &clipped)
                grad_scale = min(1.0, clip_norm / (sqrt(clipped) + 1e-6))
            n_steps += 1
            _update(optimizer, hp, pp, g, sp, d + 1, <double> (step + n_steps), clip_value, grad_scale)
            for j in range(d + 1):
                grad_sum[j] += g[j]
            loss_sum += (acc[0] / acc[2] + 0.5 * alpha * penalty) * acc[2]
            weight_sum += acc[2]
        for j in range(d + 1):
            grad_mean[j] = grad_sum[j] / (n_steps if n_steps > 0 else 1)
    free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum)
    return (loss_sum / weight_sum if weight_sum > 0.0 else float("nan")), n_steps
