"""Optimizer kernels of fastgd, compiled: the ``fastgd.backends._spec`` contract.

Each update reads p, g and the state once and writes p and the state once
(the loops are in ``_optim.h``), with value clipping, the global-norm scale
and L2 weight decay applied inline, and returns the raw gradient's squared
norm, summed in float64 as it goes.  Large arrays are split into one
contiguous chunk per thread (``prange``), each with its own partial sum,
added in chunk order: deterministic for a given ``n_threads``.  Optional
buffers are ``None``.  The GIL is released.
"""

from cython cimport floating
from cython.parallel cimport prange

from fastgd_core._optim cimport *

cdef enum:
    PARALLEL_MIN_ELEMENTS = 1 << 18  # below this a single chunk runs (threads do not pay)
    MAX_CHUNKS = 64


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n, int n_threads) noexcept nogil:
    if n_threads <= 1 or n < PARALLEL_MIN_ELEMENTS:
        return 1
    return n_threads if n_threads < MAX_CHUNKS else MAX_CHUNKS


cdef inline floating *_ptr(floating[::1] a) noexcept:
    """The data pointer of an optional buffer (NULL for None)."""
    if a is None:
        return NULL
    return &a[0]


def squared_norm(const floating[::1] g, *, double clip_value, int n_threads):
    """Squared L2 norms of ``g`` before and after clamping to ``[-c, c]``, ``c = clip_value``:
    ``(sum_i g_i^2, sum_i clamp(g_i, -c, c)^2)``, summed in float64."""
    cdef Py_ssize_t n = g.shape[0], chunks = _n_chunks(n, n_threads), c, lo, hi
    cdef double raw[MAX_CHUNKS]
    cdef double clipped[MAX_CHUNKS]
    cdef double total_raw = 0.0, total_clipped = 0.0
    if n == 0:
        return 0.0, 0.0
    cdef const floating *gp = &g[0]
    with nogil:
        for c in prange(chunks, num_threads=chunks, schedule="static"):
            lo = c * n // chunks
            hi = (c + 1) * n // chunks
            if floating is double:
                fgd_squared_norm_d(gp + lo, hi - lo, clip_value, &raw[c], &clipped[c])
            else:
                fgd_squared_norm_f(gp + lo, hi - lo, clip_value, &raw[c], &clipped[c])
        for c in range(chunks):
            total_raw += raw[c]
            total_clipped += clipped[c]
    return total_raw, total_clipped


def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] momentum_buffer, *, double lr,
             double momentum, double dampening, double weight_decay, bint nesterov, bint first_step,
             double clip_value, double grad_scale, int n_threads):
    """SGD (PyTorch's rule) on the prepared gradient g: with momentum ``mu``,
    ``b = g`` on the first step, else ``b = mu b + (1 - dampening) g``; the
    direction ``d = g + mu b`` (Nesterov) or ``b``; without momentum ``d = g``.
    ``p = p - lr d``.  Returns the raw gradient's squared norm."""
    cdef Py_ssize_t n = p.shape[0], chunks = _n_chunks(n, n_threads), c, lo, hi
    cdef double partial[MAX_CHUNKS]
    cdef double total = 0.0
    if n == 0:
        return 0.0
    cdef floating *pp = &p[0]
    cdef const floating *gp = &g[0]
    cdef floating *bp = _ptr(momentum_buffer)
    with nogil:
        for c in prange(chunks, num_threads=chunks, schedule="static"):
            lo = c * n // chunks
            hi = (c + 1) * n // chunks
            if floating is double:
                partial[c] = fgd_sgd_d(pp + lo, gp + lo, bp + lo if bp != NULL else NULL, hi - lo, lr, momentum,
                                       dampening, weight_decay, nesterov, first_step, clip_value, grad_scale)
            else:
                partial[c] = fgd_sgd_f(pp + lo, gp + lo, bp + lo if bp != NULL else NULL, hi - lo, lr, momentum,
                                       dampening, weight_decay, nesterov, first_step, clip_value, grad_scale)
        for c in range(chunks):
            total += partial[c]
    return total


def adagrad_step(floating[::1] p, const floating[::1] g, floating[::1] state_sum, *, double lr,
                 double lr_decay, double weight_decay, double eps, double step, double clip_value,
                 double grad_scale, int n_threads):
    """Adagrad (PyTorch's rule) on the prepared gradient g at step t:
    ``clr = lr / (1 + (t - 1) lr_decay)``, ``s = s + g^2``,
    ``p = p - clr g / (sqrt(s) + eps)``.  Returns the raw gradient's squared norm."""
    cdef Py_ssize_t n = p.shape[0], chunks = _n_chunks(n, n_threads), c, lo, hi
    cdef double partial[MAX_CHUNKS]
    cdef double total = 0.0, clr = lr / (1.0 + (step - 1.0) * lr_decay)
    if n == 0:
        return 0.0
    cdef floating *pp = &p[0]
    cdef const floating *gp = &g[0]
    cdef floating *sp = &state_sum[0]
    with nogil:
        for c in prange(chunks, num_threads=chunks, schedule="static"):
            lo = c * n // chunks
            hi = (c + 1) * n // chunks
            if floating is double:
                partial[c] = fgd_adagrad_d(pp + lo, gp + lo, sp + lo, hi - lo, clr, weight_decay, eps,
                                           clip_value, grad_scale)
            else:
                partial[c] = fgd_adagrad_f(pp + lo, gp + lo, sp + lo, hi - lo, clr, weight_decay, eps,
                                           clip_value, grad_scale)
        for c in range(chunks):
            total += partial[c]
    return total


def rmsprop_step(floating[::1] p, const floating[::1] g, floating[::1] square_avg,
                 floating[::1] momentum_buffer, floating[::1] grad_avg, *, double lr, double alpha,
                 double eps, double weight_decay, double momentum, bint centered, double clip_value,
                 double grad_scale, int n_threads):
    """RMSprop (PyTorch's rule) on the prepared gradient g:
    ``v = alpha v + (1 - alpha) g^2``; centered: ``m = m + (1 - alpha)(g - m)``,
    ``a = sqrt(max(v - m^2, 0)) + eps``, else ``a = sqrt(v) + eps``; with
    momentum ``mu``: ``b = mu b + g / a``, ``p = p - lr b``, else
    ``p = p - lr g / a``.  Returns the raw gradient's squared norm."""
    cdef Py_ssize_t n = p.shape[0], chunks = _n_chunks(n, n_threads), c, lo, hi
    cdef double partial[MAX_CHUNKS]
    cdef double total = 0.0
    if n == 0:
        return 0.0
    cdef floating *pp = &p[0]
    cdef const floating *gp = &g[0]
    cdef floating *vp = &square_avg[0]
    cdef floating *bp = _ptr(momentum_buffer) if momentum > 0 else NULL
    cdef floating *mp = _ptr(grad_avg) if centered else NULL
    with nogil:
        for c in prange(chunks, num_threads=chunks, schedule="static"):
            lo = c * n // chunks
            hi = (c + 1) * n // chunks
            if floating is double:
                partial[c] = fgd_rmsprop_d(pp + lo, gp + lo, vp + lo, bp + lo if bp != NULL else NULL,
                                           mp + lo if mp != NULL else NULL, hi - lo, lr, alpha, eps,
                                           weight_decay, momentum, clip_value, grad_scale)
            else:
                partial[c] = fgd_rmsprop_f(pp + lo, gp + lo, vp + lo, bp + lo if bp != NULL else NULL,
                                           mp + lo if mp != NULL else NULL, hi - lo, lr, alpha, eps,
                                           weight_decay, momentum, clip_value, grad_scale)
        for c in range(chunks):
            total += partial[c]
    return total


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] exp_avg, floating[::1] exp_avg_sq,
              floating[::1] max_exp_avg_sq, *, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled_weight_decay, bint amsgrad, double step,
              double clip_value, double grad_scale, int n_threads):
    """Adam / AdamW (PyTorch's rule) on the prepared gradient g at step t.
    AdamW: ``p = p (1 - lr weight_decay)`` first, no L2 term in g.  Then
    ``m = m + (1 - beta1)(g - m)``, ``v = beta2 v + (1 - beta2) g^2``, with
    amsgrad ``vmax = max(vmax, v)`` used for v below;
    ``p = p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.
    Returns the raw gradient's squared norm."""
    cdef Py_ssize_t n = p.shape[0], chunks = _n_chunks(n, n_threads), c, lo, hi
    cdef double partial[MAX_CHUNKS]
    cdef double total = 0.0
    if n == 0:
        return 0.0
    cdef floating *pp = &p[0]
    cdef const floating *gp = &g[0]
    cdef floating *mp = &exp_avg[0]
    cdef floating *vp = &exp_avg_sq[0]
    cdef floating *xp = _ptr(max_exp_avg_sq) if amsgrad else NULL
    with nogil:
        for c in prange(chunks, num_threads=chunks, schedule="static"):
            lo = c * n // chunks
            hi = (c + 1) * n // chunks
            if floating is double:
                partial[c] = fgd_adam_d(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if xp != NULL else NULL,
                                        hi - lo, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                                        step, clip_value, grad_scale)
            else:
                partial[c] = fgd_adam_f(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if xp != NULL else NULL,
                                        hi - lo, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                                        step, clip_value, grad_scale)
        for c in range(chunks):
            total += partial[c]
    return total
