"""Training kernel of fastgd, compiled: a whole mini-batch epoch (``_spec.minibatch_epoch``).

Per batch, without the GIL: the rows ``order[k B : (k + 1) B]`` are gathered
into a small buffer (then read in order, from cache) and the fused
loss+gradient row kernel of ``_losses.h`` runs on it, both by chunks of rows
on threads when the batch is large enough (``fgd_n_chunks``: a batch of 1024
rows of 100 features is; the gathering waits on memory, and two threads wait
in parallel), their sums added in chunk order; then the L2 penalty is added,
the (d + 1) gradient is clipped by value and by norm, and the optimizer's
update of ``_optim.h`` (the very entry point of ``optimizer_update``) is
applied to the weights and to the intercept.
"""

from cython cimport floating
from libc.math cimport isinf, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastgd_core._losses cimport FGD_MIN_WORK, fgd_gathered_loss_grad, fgd_n_chunks, fgd_part_stride
from fastgd_core._optim cimport fgd_optimizer_update, fgd_squared_norm

include "_dispatch.pxi"

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
    cdef Py_ssize_t n_scalars = scalars.shape[0], start, m, j, n_steps = 0
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
    cdef int chunks = fgd_n_chunks(n_threads, rows, rows * (d if d > 0 else 1), FGD_MIN_WORK)
    cdef Py_ssize_t stride = fgd_part_stride(d)
    cdef double *part = <double *> malloc(chunks * stride * sizeof(double))
    if Xb == NULL or yb == NULL or sb == NULL or g == NULL or sums == NULL or grad_sum == NULL \
            or weight_scalars == NULL or part == NULL:
        free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum); free(weight_scalars); free(part)
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
            for j in range(d):
                sums[j] = 0.0
            acc[0] = acc[1] = acc[2] = 0.0
            fgd_gathered_loss_grad(is_float32, loss, Xp, &y[0], &sample_weight[0] if weighted else NULL,
                                   &order[start], m, n - start, d, pp, pp[d], Xb, yb, sb, part, stride,
                                   chunks if chunks < m else <int> m, sums, acc)
            start += m
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
    free(Xb); free(yb); free(sb); free(g); free(sums); free(grad_sum); free(weight_scalars); free(part)
    return (loss_sum / weight_sum if weight_sum > 0.0 else float("nan")), n_steps
