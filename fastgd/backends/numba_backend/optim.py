"""Numba optimizer kernels: fused single-pass updates with clipping (see ``_spec``).

Each kernel walks the parameters once: it prepares the gradient elementwise
(clamp to ``[-clip_value, clip_value]``, times ``grad_scale``, plus
``weight_decay * p``), updates the state and the parameters, and sums the raw
gradient's squares in float64 as it goes.  Large arrays are split into one
contiguous chunk per thread (``prange``), each with its own partial sum,
combined in chunk order: deterministic for a given thread count.  Optional
buffers come with a flag (``use_buffer``, ``centered``, ``amsgrad``) and are
an empty array when unused, so that one compiled kernel serves every setting
and the compiled epoch can call the same code.
"""

import math

import numpy as np
from numba import prange

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend._threads import n_chunks_for, run_parallel

_UPDATE = dict(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_PARALLEL = dict(nogil=True, parallel=True)


@fastgd_njit(inline="always", **_UPDATE)
def _prepared(p, g, clip_value, grad_scale, weight_decay):
    """``clamp(g, -c, c) * grad_scale + weight_decay * p`` (NaN stays NaN)."""
    g = clip_value if g > clip_value else (-clip_value if g < -clip_value else g)
    return g * grad_scale + weight_decay * p


# ---- one range [lo, hi) of each optimizer, serial and vectorizable ---------------------


@fastgd_njit(**_UPDATE)
def _squared_norm_range(g, clip_value, lo, hi):
    g = g[lo:hi]
    raw = 0.0
    clipped = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        x = np.float64(g[i])
        raw += x * x
        c = clip_value if x > clip_value else (-clip_value if x < -clip_value else x)
        clipped += c * c
    return raw, clipped


@fastgd_njit(inline="always", **_UPDATE)
def _sgd_loop(p, g, buf, use_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, lo, hi):
    p, g, buf = p[lo:hi], g[lo:hi], buf[lo:hi] if use_buffer else buf
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        if use_buffer:
            b = d if first_step else momentum * np.float64(buf[i]) + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d
    return raw


@fastgd_njit(**_UPDATE)
def _sgd_range(p, g, buf, use_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, lo, hi):
    """SGD on ``[lo, hi)``; the flag is made a constant of each loop so that the loop vectorizes."""
    if use_buffer:
        return _sgd_loop(p, g, buf, True, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, lo, hi)
    return _sgd_loop(p, g, buf, False, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, lo, hi)


@fastgd_njit(**_UPDATE)
def _adagrad_range(p, g, s, clr, weight_decay, eps, clip_value, grad_scale, lo, hi):
    p, g, s = p[lo:hi], g[lo:hi], s[lo:hi]
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        si = np.float64(s[i]) + d * d
        s[i] = si
        p[i] = p[i] - clr * d / (math.sqrt(np.float64(s[i])) + eps)
    return raw


@fastgd_njit(inline="always", **_UPDATE)
def _rmsprop_loop(p, g, v, buf, m, use_buffer, centered, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi):
    p, g, v = p[lo:hi], g[lo:hi], v[lo:hi]
    buf = buf[lo:hi] if use_buffer else buf
    m = m[lo:hi] if centered else m
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        v[i] = alpha * np.float64(v[i]) + (1.0 - alpha) * d * d
        vi = np.float64(v[i])
        if centered:
            mi = np.float64(m[i])
            m[i] = mi + (1.0 - alpha) * (d - mi)
            mi = np.float64(m[i])
            var = vi - mi * mi
            a = math.sqrt(var if var > 0.0 else 0.0) + eps
        else:
            a = math.sqrt(vi) + eps
        if use_buffer:
            buf[i] = momentum * np.float64(buf[i]) + d / a
            p[i] = p[i] - lr * np.float64(buf[i])
        else:
            p[i] = p[i] - lr * d / a
    return raw


@fastgd_njit(**_UPDATE)
def _rmsprop_range(p, g, v, buf, m, use_buffer, centered, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi):
    """RMSprop on ``[lo, hi)``; each flag combination is its own loop, so that it vectorizes."""
    if use_buffer:
        if centered:
            return _rmsprop_loop(p, g, v, buf, m, True, True, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi)
        return _rmsprop_loop(p, g, v, buf, m, True, False, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi)
    if centered:
        return _rmsprop_loop(p, g, v, buf, m, False, True, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi)
    return _rmsprop_loop(p, g, v, buf, m, False, False, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, lo, hi)


@fastgd_njit(inline="always", **_UPDATE)
def _adam_loop(p, g, m, v, vmax, amsgrad, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt, clip_value, grad_scale, lo, hi):
    p, g, m, v = p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
    vmax = vmax[lo:hi] if amsgrad else vmax
    raw = 0.0
    l2 = 0.0 if decoupled else weight_decay
    decay = 1.0 - lr * weight_decay if decoupled else 1.0  # p * 1.0 is exact: no branch in the loop
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        pi = np.float64(p[i])
        d = _prepared(pi, gi, clip_value, grad_scale, l2)
        p[i] = pi * decay
        pi = np.float64(p[i])
        mi = np.float64(m[i])
        m[i] = mi + (1.0 - beta1) * (d - mi)
        v[i] = beta2 * np.float64(v[i]) + (1.0 - beta2) * d * d
        vi = np.float64(v[i])
        if amsgrad:
            vm = np.float64(vmax[i])
            vm = vm if vm > vi else vi
            vmax[i] = vm
            vi = np.float64(vmax[i])
        p[i] = pi - step_size * np.float64(m[i]) / (math.sqrt(vi) / bc2_sqrt + eps)
    return raw


@fastgd_njit(**_UPDATE)
def _adam_range(p, g, m, v, vmax, amsgrad, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt, clip_value, grad_scale, lo, hi):
    """Adam on ``[lo, hi)``; amsgrad is made a constant of each loop so that the loop vectorizes."""
    if amsgrad:
        return _adam_loop(p, g, m, v, vmax, True, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt, clip_value, grad_scale, lo, hi)
    return _adam_loop(p, g, m, v, vmax, False, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt, clip_value, grad_scale, lo, hi)


# ---- whole arrays: serial, or one chunk per thread ---------------------------------------


@fastgd_njit(**_PARALLEL)
def _norm_parallel(g, clip_value, partial, n_chunks):
    n = g.shape[0]
    for c in prange(n_chunks):
        partial[c, 0], partial[c, 1] = _squared_norm_range(g, clip_value, c * n // n_chunks, (c + 1) * n // n_chunks)


@fastgd_njit(**_PARALLEL)
def _sgd_parallel(p, g, buf, use_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, partial, n_chunks):
    n = p.shape[0]
    for c in prange(n_chunks):
        partial[c] = _sgd_range(p, g, buf, use_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value,
                                grad_scale, c * n // n_chunks, (c + 1) * n // n_chunks)


@fastgd_njit(**_PARALLEL)
def _adagrad_parallel(p, g, s, clr, weight_decay, eps, clip_value, grad_scale, partial, n_chunks):
    n = p.shape[0]
    for c in prange(n_chunks):
        partial[c] = _adagrad_range(p, g, s, clr, weight_decay, eps, clip_value, grad_scale,
                                    c * n // n_chunks, (c + 1) * n // n_chunks)


@fastgd_njit(**_PARALLEL)
def _rmsprop_parallel(p, g, v, buf, m, use_buffer, centered, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale, partial, n_chunks):
    n = p.shape[0]
    for c in prange(n_chunks):
        partial[c] = _rmsprop_range(p, g, v, buf, m, use_buffer, centered, lr, alpha, eps, weight_decay, momentum, clip_value, grad_scale,
                                    c * n // n_chunks, (c + 1) * n // n_chunks)


@fastgd_njit(**_PARALLEL)
def _adam_parallel(p, g, m, v, vmax, amsgrad, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt, clip_value,
                   grad_scale, partial, n_chunks):
    n = p.shape[0]
    for c in prange(n_chunks):
        partial[c] = _adam_range(p, g, m, v, vmax, amsgrad, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt,
                                 clip_value, grad_scale, c * n // n_chunks, (c + 1) * n // n_chunks)


def _update(range_kernel, parallel_kernel, p, n_threads, *args):
    """Run an update serially or in chunks; return the summed partial norms as a float."""
    n_chunks = n_chunks_for(p.shape[0], n_threads)
    if n_chunks == 1:
        return float(range_kernel(*args, 0, p.shape[0]))
    partial = np.zeros(n_chunks)
    run_parallel(parallel_kernel, n_chunks, *args, partial)
    return float(partial.sum())


def squared_norm(g, *, clip_value, n_threads):
    """``(sum g^2, sum clamp(g, -c, c)^2)``, summed in float64."""
    n_chunks = n_chunks_for(g.shape[0], n_threads)
    if n_chunks == 1:
        raw, clipped = _squared_norm_range(g, float(clip_value), 0, g.shape[0])
        return float(raw), float(clipped)
    partial = np.zeros((n_chunks, 2))
    run_parallel(_norm_parallel, n_chunks, g, float(clip_value), partial)
    return float(partial[:, 0].sum()), float(partial[:, 1].sum())


def sgd_step(p, g, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, n_threads):
    """``b = g`` (first step) or ``mu b + (1 - dampening) g``; ``d = g + mu b`` (Nesterov) or ``b``; ``p -= lr d``."""
    use_buffer = momentum != 0
    buf = momentum_buffer if use_buffer else p[:0]
    return _update(_sgd_range, _sgd_parallel, p, n_threads, p, g, buf, use_buffer, float(lr), float(momentum), float(dampening),
                   float(weight_decay), bool(nesterov), bool(first_step), float(clip_value), float(grad_scale))


def adagrad_step(p, g, state_sum, *, lr, lr_decay, weight_decay, eps, step, clip_value, grad_scale, n_threads):
    """``s += g^2``; ``p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)``."""
    clr = lr / (1 + (step - 1) * lr_decay)
    return _update(_adagrad_range, _adagrad_parallel, p, n_threads, p, g, state_sum, float(clr), float(weight_decay),
                   float(eps), float(clip_value), float(grad_scale))


def rmsprop_step(p, g, square_avg, momentum_buffer, grad_avg, *, lr, alpha, eps, weight_decay, momentum, centered, clip_value, grad_scale, n_threads):
    """``v = alpha v + (1 - alpha) g^2``; ``a = sqrt(v [- m^2, clamped at 0]) + eps``; momentum or plain step."""
    use_buffer = momentum > 0
    buf = momentum_buffer if use_buffer else p[:0]
    m = grad_avg if centered else p[:0]
    return _update(_rmsprop_range, _rmsprop_parallel, p, n_threads, p, g, square_avg, buf, m, use_buffer, bool(centered), float(lr), float(alpha),
                   float(eps), float(weight_decay), float(momentum), float(clip_value), float(grad_scale))


def adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad, step, clip_value, grad_scale, n_threads):
    """Adam / AdamW: bias-corrected moments, ``p -= lr/(1-beta1^t) m / (sqrt(v)/sqrt(1-beta2^t) + eps)``."""
    vmax = max_exp_avg_sq if amsgrad else p[:0]
    step_size = lr / (1 - beta1**step)
    bc2_sqrt = math.sqrt(1 - beta2**step)
    return _update(_adam_range, _adam_parallel, p, n_threads, p, g, exp_avg, exp_avg_sq, vmax, bool(amsgrad), float(lr), float(beta1),
                   float(beta2), float(eps), float(weight_decay), bool(decoupled_weight_decay), float(step_size),
                   float(bc2_sqrt), float(clip_value), float(grad_scale))
