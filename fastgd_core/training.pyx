"""Training kernel of fastgd, compiled: a whole mini-batch epoch (``_spec.minibatch_epoch``).

Per batch, without the GIL: the rows ``order[k B : (k + 1) B]`` are gathered
into a small buffer (then read in order, from cache), the fused
loss+gradient row kernel of ``_losses.h`` runs on it, the L2 penalty is
added, the (d + 1) gradient is clipped by value and by norm, and the
optimizer's update of ``_optim.h`` (the very entry point of
``optimizer_update``) is applied to the weights and to the intercept.  The
epoch is serial: one batch is too small for threads to pay.
"""

from cython cimport floating
from libc.math cimport isinf, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastgd_core._losses cimport fgd_loss_grad_rows
from fastgd_core._optim cimport fgd_optimizer_update, fgd_squared_norm

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


cdef inline void _prefetch_row(const char *row, Py_ssize_t n_bytes) noexcept nogil:
    """Ask for every cache line of a row that will be gathered soon."""
    cdef Py_ssize_t offset
    for offset in range(0, n_bytes, 64):
        FGD_PREFETCH(row + offset)


def minibatch_epoch(const floating[:, ::1] X, const floating[::1] y, const floating[::1] sample_weight,
                    const int64_t[::1] order, floating[::1] params, floating[:, ::1] state, double[::1] scalars,
                    double[::1] grad_mean, *, int loss, int optimizer, const double[::1] hyper,
                    const double[::1] intercept_hyper, Py_ssize_t step, Py_ssize_t batch_size, double alpha,
                    bint decoupled, bint fit_intercept, double clip_value, double clip_norm, int n_threads):
    """One epoch of mini-batch training, every step compiled.

    For each batch (its weights s, the batch's own weighted means):
    ``(l, g_w, g_b) = loss_grad(X_batch, y_batch, w, b, s)``; ``l += alpha/2 ||w||^2``;
    the recorded gradient is ``(g_w + alpha w, g_b)`` (``g_b = 0`` unless
    ``fit_intercept``), the stepped one the same, or ``(g_w, g_b)`` when
    ``decoupled``; clip it by value, then by ``min(1, clip_norm / (||g|| + 1e-6))``;
    step ``t = step + k + 1`` of optimizer ``optimizer`` on the weights with
    ``hyper`` and on the intercept with ``intercept_hyper``, both from the
    scalar state before the step.  A batch of zero weight is skipped.  Writes
    the mean recorded gradient into ``grad_mean`` and returns
    ``(weighted mean loss, n_steps)``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], rows = batch_size if batch_size < n else n
    cdef Py_ssize_t n_scalars = scalars.shape[0], start, m, r, j, n_steps = 0
    cdef int64_t i
    cdef double acc[3]
    cdef double penalty, wj, raw, clipped, grad_scale, t, loss_sum = 0.0, weight_sum = 0.0
    cdef floating gw, recorded
    cdef bint weighted = sample_weight is not None
    cdef int is_float32 = floating is float
    cdef floating *Xb = <floating *> malloc(rows * (d if d > 0 else 1) * sizeof(floating))
    cdef floating *yb = <floating *> malloc(rows * sizeof(floating))
    cdef floating *sb = <floating *> malloc(rows * sizeof(floating))
    cdef floating *g = <floating *> malloc((d + 1) * sizeof(floating))
    cdef double *sums = <double *> malloc((d + 1) * sizeof(double))
    cdef double *grad_sum = <double *> malloc((d + 1) * sizeof(double))
    cdef double *weight_scalars = <double *> malloc((n_scalars + 1) * sizeof(double))
    if Xb == NULL or yb == NULL or sb == NULL or g == NULL or sums == NULL or grad_sum == NULL \
            or weight_scalars == NULL:
        free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum); free(weight_scalars)
        raise MemoryError()
    cdef const floating *Xp = &X[0, 0]
    cdef floating *pp = &params[0]
    cdef floating *sp = &state[0, 0]
    cdef double *scalars_p = &scalars[0]
    cdef const double *hp = &hyper[0]
    cdef const double *ihp = &intercept_hyper[0]
    cdef bint same_hyper = tuple(hyper) == tuple(intercept_hyper)  # then one update serves both ranges
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
            fgd_loss_grad_rows(is_float32, loss, Xb, yb, sb if weighted else NULL, m, d, pp, pp[d], sums, acc)
            if acc[2] == 0.0:
                continue
            penalty = 0.0
            for j in range(d):
                wj = pp[j]
                penalty += wj * wj
                gw = <floating> (sums[j] / acc[2])
                recorded = <floating> (gw + alpha * wj)
                grad_sum[j] += recorded
                g[j] = gw if decoupled else recorded
            g[d] = <floating> (acc[1] / acc[2]) if fit_intercept else 0
            grad_sum[d] += g[d]
            grad_scale = 1.0
            if not isinf(clip_norm):
                fgd_squared_norm(is_float32, g, d + 1, clip_value, 1, &raw, &clipped)
                grad_scale = min(1.0, clip_norm / (sqrt(clipped) + 1e-6))
            n_steps += 1
            t = <double> (step + n_steps)
            if same_hyper:  # the weights and the intercept [0, d + 1) at once: the same as the two calls below
                fgd_optimizer_update(is_float32, optimizer, pp, g, sp, d + 1, d + 1, hp, t, scalars_p,
                                     clip_value, grad_scale, 1)
            else:
                memcpy(weight_scalars, scalars_p, n_scalars * sizeof(double))
                fgd_optimizer_update(is_float32, optimizer, pp, g, sp, d + 1, d, hp, t, weight_scalars,
                                     clip_value, grad_scale, 1)
                fgd_optimizer_update(is_float32, optimizer, pp + d, g + d, sp + d, d + 1, 1, ihp, t, scalars_p,
                                     clip_value, grad_scale, 1)
            loss_sum += (acc[0] / acc[2] + 0.5 * alpha * penalty) * acc[2]
            weight_sum += acc[2]
        for j in range(d + 1):
            grad_mean[j] = grad_sum[j] / (n_steps if n_steps > 0 else 1)
    free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum); free(weight_scalars)
    return (loss_sum / weight_sum if weight_sum > 0.0 else float("nan")), n_steps
