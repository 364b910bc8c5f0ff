"""Optimizer kernels of fastgd, compiled: the ``fastgd.backends._spec`` contract.

The update of every optimizer is one call of ``_optim.h``: the step's
coefficients (bias corrections, decayed rates, flags) and the scalar state
are computed once, then one loop reads p, g and the state once and writes p
and the state once, with value clipping, the global-norm scale and L2
weight decay applied inline, and returns the raw gradient's squared norm,
summed in float64 as it goes.  Large arrays are split into one contiguous
chunk per thread (``_parallel.h``), each with its own partial sum, added in
chunk order: deterministic for a given ``n_threads``.  The GIL is released.
"""

from cython cimport floating

from fastgd_core._optim cimport fgd_optimizer_update, fgd_squared_norm

include "_dispatch.pxi"


def squared_norm(const floating[::1] g, *, double clip_value, int n_threads):
    """Squared L2 norms of ``g`` before and after clamping to ``[-c, c]``, ``c = clip_value``:
    ``(sum_i g_i^2, sum_i clamp(g_i, -c, c)^2)``, summed in float64."""
    cdef double raw, clipped
    with nogil:
        fgd_squared_norm(floating is float, &g[0], g.shape[0], clip_value, n_threads, &raw, &clipped)
    return raw, clipped


def optimizer_update(floating[::1] p, const floating[::1] g, floating[:, ::1] state, double[::1] scalars, *,
                     int code, const double[::1] hyper, Py_ssize_t step, double clip_value, double grad_scale,
                     int n_threads):
    """Step t = ``step`` of optimizer ``code`` on ``p``, in place, from the prepared gradient
    ``clamp(g, -clip_value, clip_value) * grad_scale (+ weight_decay p)``.

    ``state`` (k, n) holds the optimizer's buffers as rows and ``scalars`` its
    scalar state (updated once); ``hyper`` its packed hyper-parameters.  The
    codes, layouts and rules: ``_optim.h``.  Returns the raw gradient's
    squared norm.
    """
    cdef double raw
    with nogil:
        raw = fgd_optimizer_update(floating is float, code, &p[0], &g[0], &state[0, 0], state.shape[1], p.shape[0],
                                   &hyper[0], <double> step, &scalars[0], clip_value, grad_scale, n_threads)
    return raw
