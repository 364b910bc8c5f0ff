"""Numba training kernel: a whole mini-batch epoch in compiled code (see ``_spec``).

Per batch: the rows ``order[k B : (k + 1) B]`` are gathered into a small
buffer (rows are then read in order, from cache), the fused loss+gradient of
:mod:`.losses` runs on it, the L2 penalty is added, the gradient is clipped,
and the optimizer's update from :mod:`.optim` is applied -- no Python per step.
The epoch is serial: a batch is too small for threads to pay.
"""

import math

import numpy as np

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend.losses import _loss_grad_range, _prefetch
from fastgd.backends.numba_backend.optim import (
    _adagrad_range,
    _adam_range,
    _rmsprop_range,
    _sgd_range,
    _squared_norm_range,
)

_EPOCH = dict(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_PREFETCH_ROWS = 16  # rows gathered ahead: random rows are latency-bound, not bandwidth-bound


@fastgd_njit(**_EPOCH)
def _apply_update(code, hyper, params, g, state, t, clip_value, grad_scale):
    """The update of optimizer ``code`` at step ``t`` on the whole (d + 1) vector (no weight decay)."""
    n = params.shape[0]
    lr = hyper[0]
    if code == 0:
        momentum = hyper[1]
        _sgd_range(params, g, state[0], momentum != 0.0, lr, momentum, hyper[2], 0.0, hyper[3] != 0.0, t == 1,
                   clip_value, grad_scale, 0, n)
    elif code == 1:
        clr = lr / (1.0 + (t - 1) * hyper[1])
        _adagrad_range(params, g, state[0], clr, 0.0, hyper[2], clip_value, grad_scale, 0, n)
    elif code == 2:
        momentum = hyper[3]
        _rmsprop_range(params, g, state[0], state[1], state[2], momentum > 0.0, hyper[4] != 0.0, lr, hyper[1],
                       hyper[2], 0.0, momentum, clip_value, grad_scale, 0, n)
    else:
        beta1, beta2 = hyper[1], hyper[2]
        step_size = lr / (1.0 - beta1**t)
        bc2_sqrt = math.sqrt(1.0 - beta2**t)
        _adam_range(params, g, state[0], state[1], state[2], hyper[4] != 0.0, lr, beta1, beta2, hyper[3], 0.0,
                    False, step_size, bc2_sqrt, clip_value, grad_scale, 0, n)


@fastgd_njit(**_EPOCH)
def _epoch(kind, X, y, s, weighted, order, params, state, grad_mean, code, hyper, step, batch_size, alpha,
           fit_intercept, clip_value, clip_norm):
    n, d = X.shape
    rows = min(batch_size, n)
    Xb = np.empty((rows, d), X.dtype)
    yb = np.empty(rows, X.dtype)
    sb = np.empty(rows, X.dtype)
    sums = np.empty(d)
    g = np.empty(d + 1, X.dtype)
    grad_sum = np.zeros(d + 1)
    w = params[:d]
    loss_sum = 0.0
    weight_sum = 0.0
    n_steps = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
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
        batch_loss, batch_b, batch_weight = _loss_grad_range(kind, Xb, yb, w, np.float64(params[d]), sb, weighted,
                                                             0, m, sums)
        if batch_weight == 0.0:
            continue
        penalty = 0.0
        for j in range(d):
            wj = np.float64(w[j])
            penalty += wj * wj
            g[j] = sums[j] / batch_weight
            g[j] += alpha * w[j]
        g[d] = batch_b / batch_weight if fit_intercept else 0.0
        grad_scale = 1.0
        if clip_norm < math.inf:
            _, clipped = _squared_norm_range(g, clip_value, 0, d + 1)
            grad_scale = min(1.0, clip_norm / (math.sqrt(clipped) + 1e-6))
        n_steps += 1
        _apply_update(code, hyper, params, g, state, step + n_steps, clip_value, grad_scale)
        for j in range(d + 1):
            grad_sum[j] += g[j]
        loss_sum += (batch_loss / batch_weight + 0.5 * alpha * penalty) * batch_weight
        weight_sum += batch_weight
    for j in range(d + 1):
        grad_mean[j] = grad_sum[j] / max(n_steps, 1)
    return (loss_sum / weight_sum if weight_sum > 0.0 else np.nan), n_steps


def minibatch_epoch(X, y, sample_weight, order, params, state, grad_mean, *, loss, optimizer, hyper, step, batch_size, alpha, fit_intercept, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps (see ``_spec.minibatch_epoch``); returns ``(loss, n_steps)``."""
    weighted = sample_weight is not None
    s = sample_weight if weighted else y
    loss_value, n_steps = _epoch(int(loss), X, y, s, weighted, order, params, state, grad_mean, int(optimizer),
                                 np.asarray(hyper, dtype=np.float64), int(step), int(batch_size), float(alpha),
                                 bool(fit_intercept), float(clip_value), float(clip_norm))
    return float(loss_value), int(n_steps)
