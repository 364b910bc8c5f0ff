"""Numba training kernel: a whole mini-batch epoch in compiled code (see ``_spec``).

Per batch: the rows ``order[k B : (k + 1) B]`` are gathered into a small
buffer (rows are then read in order, from cache), the fused loss+gradient of
:mod:`.losses` runs on it, the L2 penalty is added (to the stepped gradient
too unless the decay is decoupled), the stepped gradient is clipped, and the
optimizer's update from :mod:`.optim` -- the same dispatch as
``optimizer_update`` -- is applied to the weights and to the intercept, each
with its own hyper-parameters: no Python per step.  A batch large enough
(``n_chunks_for`` its rows x features) is gathered and summed by chunks of
rows on threads (``prange``): the random gathers wait on memory, and threads
wait in parallel; the chunks' sums are added in chunk order.
"""

import math

import numpy as np
from numba import prange

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend._threads import chunk, n_chunks_for, run_parallel
from fastgd.backends.numba_backend.losses import _loss_grad_range, _prefetch
from fastgd.backends.numba_backend.optim import _squared_norm_range, _update

_EPOCH = dict(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_PREFETCH_ROWS = 16  # rows gathered ahead: random rows are latency-bound, not bandwidth-bound


@fastgd_njit(inline="always", **_EPOCH)
def _gather(X, y, s, weighted, order, start, m, Xb, yb, sb):
    """Copy the rows ``order[start : start + m]`` of ``X``, ``y`` (and ``s``) into
    the batch buffers, prefetching the rows ``_PREFETCH_ROWS`` ahead."""
    n, d = X.shape
    line = max(1, 64 // X.itemsize)
    for r in range(m):
        if start + r + _PREFETCH_ROWS < n:
            ahead = order[start + r + _PREFETCH_ROWS]
            for j in range(0, d, line):
                _prefetch(X, ahead, j)
        i = order[start + r]
        for j in range(d):
            Xb[r, j] = X[i, j]
        yb[r] = y[i]
        if weighted:
            sb[r] = s[i]


@fastgd_njit(nogil=True, parallel=True)
def _batch_parallel(kind, X, y, s, weighted, order, start, m, Xb, yb, sb, w, b, sums, totals, n_chunks):
    """The batch ``order[start:start + m]`` in ``n_chunks`` chunks of rows, one thread each: chunk ``c`` gathers
    its rows into its part of the batch buffers and writes its gradient sums into ``sums[c]`` and its
    ``(sum s l, sum s dl/dz, sum s)`` into ``totals[c]``."""
    for c in prange(n_chunks):
        lo, hi = chunk(c, m, n_chunks)
        _gather(X, y, s, weighted, order, start + lo, hi - lo, Xb[lo:hi], yb[lo:hi], sb[lo:hi])
        loss, grad_b, weight = _loss_grad_range(kind, Xb, yb, w, b, sb, weighted, lo, hi, sums[c])
        totals[c, 0], totals[c, 1], totals[c, 2] = loss, grad_b, weight


@fastgd_njit(inline="always", **_EPOCH)
def _batch_sums(kind, X, y, s, weighted, order, start, m, Xb, yb, sb, w, b, chunk_sums, totals, n_chunks, sums):
    """The batch's gradient sums into ``sums`` and its ``(sum s l, sum s dl/dz, sum s)``: one chunk on this
    thread, or ``n_chunks`` on threads added in chunk order (one chunk gives the serial sums exactly)."""
    n_chunks = min(n_chunks, m)
    if n_chunks == 1:
        _gather(X, y, s, weighted, order, start, m, Xb, yb, sb)
        return _loss_grad_range(kind, Xb, yb, w, b, sb, weighted, 0, m, sums)
    _batch_parallel(kind, X, y, s, weighted, order, start, m, Xb, yb, sb, w, b, chunk_sums, totals, n_chunks)
    sums[:] = 0.0
    loss, grad_b, weight = 0.0, 0.0, 0.0
    for c in range(n_chunks):
        sums += chunk_sums[c]
        loss += totals[c, 0]
        grad_b += totals[c, 1]
        weight += totals[c, 2]
    return loss, grad_b, weight


@fastgd_njit(inline="always", **_EPOCH)
def _clip_scale(g, clip_value, clip_norm):
    """``min(1, clip_norm / (||clamp(g, -c, c)|| + 1e-6))``, 1 when ``clip_norm`` is inf."""
    if not math.isfinite(clip_norm):
        return 1.0
    _, clipped = _squared_norm_range(g, clip_value, 0, g.shape[0])
    return min(1.0, clip_norm / (math.sqrt(clipped) + 1e-6))


@fastgd_njit(inline="always", **_EPOCH)
def _penalize(params, grad, recorded, n_weights, alpha):
    """``recorded = grad + alpha w`` on the weights ``params[:n_weights]``, ``grad`` elsewhere;
    returns ``||w||^2``."""
    penalty = 0.0
    for j in range(n_weights):
        wj = np.float64(params[j])
        penalty += wj * wj
        recorded[j] = grad[j] + alpha * wj
    for j in range(n_weights, params.shape[0]):
        recorded[j] = grad[j]
    return penalty


@fastgd_njit(inline="always", **_EPOCH)
def _update_both(code, params, stepped, state, scalars, before, hyper, intercept_hyper, t, clip_value, grad_scale,
                 n_weights):
    """Step ``t`` on the weights ``[0, n_weights)`` with ``hyper`` and on the rest (the intercepts) with
    ``intercept_hyper``, both from the scalar state before the step (``before`` is scratch)."""
    before[:] = scalars
    _update(code, params, stepped, state, before, hyper, t, clip_value, grad_scale, 0, n_weights)
    _update(code, params, stepped, state, scalars, intercept_hyper, t, clip_value, grad_scale, n_weights,
            params.shape[0])


@fastgd_njit(**_EPOCH)
def _epoch(kind, X, y, s, weighted, order, params, state, scalars, grad_mean, code, hyper, intercept_hyper, step,
           batch_size, alpha, decoupled, fit_intercept, clip_value, clip_norm, n_chunks):
    n, d = X.shape
    rows = min(batch_size, n)
    Xb = np.empty((rows, d), X.dtype)
    yb = np.empty(rows, X.dtype)
    sb = np.empty(rows, X.dtype)
    sums = np.empty(d)
    chunk_sums = np.empty((n_chunks, d))
    totals = np.empty((n_chunks, 3))
    g = np.empty(d + 1, X.dtype)  # (g_w, g_b)
    recorded = np.empty(d + 1, X.dtype)  # (g_w + alpha w, g_b)
    stepped = g if decoupled else recorded
    before = np.empty_like(scalars)
    grad_sum = np.zeros(d + 1)
    w = params[:d]
    loss_sum = 0.0
    weight_sum = 0.0
    n_steps = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        batch_loss, batch_b, batch_weight = _batch_sums(kind, X, y, s, weighted, order, start, m, Xb, yb, sb, w,
                                                        np.float64(params[d]), chunk_sums, totals, n_chunks, sums)
        if batch_weight == 0.0:
            continue
        for j in range(d):
            g[j] = sums[j] / batch_weight
        g[d] = batch_b / batch_weight if fit_intercept else 0.0
        penalty = _penalize(params, g, recorded, d, alpha)
        grad_scale = _clip_scale(stepped, clip_value, clip_norm)
        n_steps += 1
        _update_both(code, params, stepped, state, scalars, before, hyper, intercept_hyper, step + n_steps, clip_value,
                     grad_scale, d)
        for j in range(d + 1):
            grad_sum[j] += recorded[j]
        loss_sum += (batch_loss / batch_weight + 0.5 * alpha * penalty) * batch_weight
        weight_sum += batch_weight
    for j in range(d + 1):
        grad_mean[j] = grad_sum[j] / max(n_steps, 1)
    return (loss_sum / weight_sum if weight_sum > 0.0 else np.nan), n_steps


def minibatch_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, *, loss, optimizer, hyper,
                    intercept_hyper, step, batch_size, alpha, decoupled, fit_intercept, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps (see ``_spec.minibatch_epoch``); returns ``(loss, n_steps)``."""
    weighted = sample_weight is not None
    s = sample_weight if weighted else y
    n_chunks = n_chunks_for(min(int(batch_size), X.shape[0]) * max(X.shape[1], 1), n_threads)
    loss_value, n_steps = run_parallel(_epoch, n_chunks, int(loss), X, y, s, weighted, order, params, state, scalars,
                                       grad_mean, int(optimizer), np.asarray(hyper, dtype=np.float64),
                                       np.asarray(intercept_hyper, dtype=np.float64), int(step), int(batch_size),
                                       float(alpha), bool(decoupled), bool(fit_intercept), float(clip_value),
                                       float(clip_norm))
    return float(loss_value), int(n_steps)
