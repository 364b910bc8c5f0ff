"""Numba optimizer kernels: one fused single-pass update for every optimizer (see ``_spec``).

An update of optimizer ``code`` has two parts:

* its *coefficients* function runs once per call, before any chunk: from the
  packed hyper-parameters, the step ``t`` and the scalar state it writes the
  few step-dependent numbers its loop needs into ``coef`` (bias corrections,
  the decayed learning rate, SGD's first-step flag) and advances the scalar
  state;
* its *loop* walks one range ``[lo, hi)`` of the parameters once: it prepares
  the gradient elementwise (clamp to ``[-clip_value, clip_value]``, times
  ``grad_scale``, plus ``weight_decay * p``), updates the state rows and the
  parameters, and sums the raw gradient's squares in float64 as it goes.

:func:`_coefficients` and :func:`_update_range` dispatch on the code;
:func:`optimizer_update` and the compiled epoch (``training.py``) reach every
optimizer through them.  Adding an optimizer is its coefficients function and
its loop here, plus its entry in those two dispatch functions.

Large arrays are split into chunks (``_threads``), each with its own partial
sum, combined in chunk order: deterministic for a given ``n_threads``.  A
setting that decides whether a state row is used (momentum, centered,
amsgrad) is made a compile-time constant of the loop in the dispatch, one
compiled loop per combination, so that every loop vectorizes; rows left
unused are never read or written.
"""

import math

import numpy as np
from numba import prange

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend._threads import chunk, n_chunks_for, run_parallel

_UPDATE = dict(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_SCALAR = dict(nogil=True, error_model="numpy")
_PARALLEL = dict(nogil=True, parallel=True)

# the optimizer codes, as declared in fastgd.optim
_SGD, _ADAGRAD, _RMSPROP, _ADAM, _NADAM, _ADAMAX = 0, 1, 2, 3, 4, 5
_N_COEF = 4  # length of ``coef``: the most step-dependent coefficients of any optimizer


@fastgd_njit(inline="always", **_UPDATE)
def _prepared(p, g, clip_value, grad_scale, weight_decay):
    """``clamp(g, -c, c) * grad_scale + weight_decay * p`` (NaN stays NaN)."""
    g = clip_value if g > clip_value else (-clip_value if g < -clip_value else g)
    return g * grad_scale + weight_decay * p


@fastgd_njit(inline="always", **_UPDATE)
def _row(state, k, lo, hi, used):
    """Row ``k`` of ``state`` on ``[lo, hi)``, or an empty view when ``used`` is false."""
    return state[k, lo:hi] if used else state[0, :0]


@fastgd_njit(**_UPDATE)
def _squared_norm_range(g, clip_value, lo, hi):
    """``(sum g^2, sum clamp(g, -c, c)^2)`` over ``[lo, hi)``, in float64."""
    g = g[lo:hi]
    raw = 0.0
    clipped = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        x = np.float64(g[i])
        raw += x * x
        c = clip_value if x > clip_value else (-clip_value if x < -clip_value else x)
        clipped += c * c
    return raw, clipped


# ---- SGD: hyper (lr, momentum, dampening, weight_decay, nesterov); rows (momentum_buffer,);
#      scalars (momentum_buffer_ready,)


@fastgd_njit(inline="always", **_SCALAR)
def _sgd_coefficients(hyper, t, scalars, coef):
    """``coef[0] = 1`` on the buffer's first step (momentum on and ``scalars[0] == 0``),
    else 0; with momentum the buffer is ready afterwards: ``scalars[0] = 1``."""
    coef[0] = 0.0
    if hyper[1] != 0.0:
        coef[0] = 1.0 if scalars[0] == 0.0 else 0.0
        scalars[0] = 1.0


@fastgd_njit(inline="always", **_UPDATE)
def _sgd_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, use_buffer):
    """With momentum ``mu`` (``use_buffer``): ``b = d`` on the first step, else
    ``b = mu b + (1 - dampening) d``; ``p -= lr (d + mu b)`` (Nesterov) or ``lr b``.
    Without: ``p -= lr d``."""
    lr, momentum, dampening, weight_decay, nesterov = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4] != 0.0
    first = coef[0] != 0.0
    p, g, buf = p[lo:hi], g[lo:hi], _row(state, 0, lo, hi, use_buffer)
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        if use_buffer:
            b = d if first else momentum * np.float64(buf[i]) + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d
    return raw


# ---- Adagrad: hyper (lr, lr_decay, weight_decay, eps); rows (sum,)


@fastgd_njit(inline="always", **_SCALAR)
def _adagrad_coefficients(hyper, t, scalars, coef):
    """The decayed rate ``coef[0] = lr / (1 + (t - 1) lr_decay)``."""
    coef[0] = hyper[0] / (1.0 + (t - 1.0) * hyper[1])


@fastgd_njit(inline="always", **_UPDATE)
def _adagrad_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """``s += d^2``; ``p -= clr d / (sqrt(s) + eps)`` with ``clr = coef[0]``."""
    weight_decay, eps, clr = hyper[2], hyper[3], coef[0]
    p, g, s = p[lo:hi], g[lo:hi], state[0, lo:hi]
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        s[i] = np.float64(s[i]) + d * d
        p[i] = p[i] - clr * d / (math.sqrt(np.float64(s[i])) + eps)
    return raw


# ---- RMSprop: hyper (lr, alpha, eps, weight_decay, momentum, centered);
#      rows (square_avg, momentum_buffer, grad_avg); no step-dependent coefficients


@fastgd_njit(inline="always", **_UPDATE)
def _rmsprop_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, use_buffer, centered):
    """``v = alpha v + (1 - alpha) d^2``; centered: ``m += (1 - alpha)(d - m)`` and
    ``a = sqrt(max(v - m^2, 0)) + eps``, else ``a = sqrt(v) + eps``; with momentum
    ``mu`` (``use_buffer``): ``b = mu b + d / a``, ``p -= lr b``, else ``p -= lr d / a``."""
    lr, alpha, eps, weight_decay, momentum = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    p, g, v = p[lo:hi], g[lo:hi], state[0, lo:hi]
    buf, m = _row(state, 1, lo, hi, use_buffer), _row(state, 2, lo, hi, centered)
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


# ---- Adam / AdamW: hyper (lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay);
#      rows (exp_avg, exp_avg_sq, max_exp_avg_sq)


@fastgd_njit(inline="always", **_SCALAR)
def _adam_coefficients(hyper, t, scalars, coef):
    """The bias corrections: ``coef[0] = lr / (1 - beta1^t)``, ``coef[1] = sqrt(1 - beta2^t)``."""
    coef[0] = hyper[0] / (1.0 - hyper[1] ** t)
    coef[1] = math.sqrt(1.0 - hyper[2] ** t)


@fastgd_njit(inline="always", **_UPDATE)
def _decoupling(lr, weight_decay, decoupled):
    """``(l2, decay)``: the L2 coefficient added to d and the factor on p -- ``(0, 1 - lr weight_decay)``
    for decoupled decay, ``(weight_decay, 1)`` otherwise (p * 1.0 is exact: no branch in the loop)."""
    return (0.0, 1.0 - lr * weight_decay) if decoupled else (weight_decay, 1.0)


@fastgd_njit(inline="always", **_UPDATE)
def _decay_and_prepare(p, g, i, clip_value, grad_scale, l2, decay):
    """The prepared gradient d at element i, then ``p[i] *= decay``; returns ``(d, p[i] as stored, g[i]^2)``."""
    gi = np.float64(g[i])
    pi = np.float64(p[i])
    d = _prepared(pi, gi, clip_value, grad_scale, l2)
    p[i] = pi * decay
    return d, np.float64(p[i]), gi * gi


@fastgd_njit(inline="always", **_UPDATE)
def _update_moments(m, v, i, d, beta1, beta2):
    """``m[i] += (1 - beta1)(d - m[i])`` (PyTorch's lerp) and ``v[i] = beta2 v[i] + (1 - beta2) d^2``;
    returns both as stored."""
    mi = np.float64(m[i])
    m[i] = mi + (1.0 - beta1) * (d - mi)
    v[i] = beta2 * np.float64(v[i]) + (1.0 - beta2) * d * d
    return np.float64(m[i]), np.float64(v[i])


@fastgd_njit(inline="always", **_UPDATE)
def _adam_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, amsgrad):
    """AdamW (decoupled): ``p *= 1 - lr weight_decay`` and no L2 term in d.  Then
    ``m += (1 - beta1)(d - m)``, ``v = beta2 v + (1 - beta2) d^2``; with amsgrad
    ``vmax = max(vmax, v)`` replaces ``v`` below;
    ``p -= coef[0] m / (sqrt(v) / coef[1] + eps)``."""
    beta1, beta2, eps, step_size, bc2_sqrt = hyper[1], hyper[2], hyper[3], coef[0], coef[1]
    l2, decay = _decoupling(hyper[0], hyper[4], hyper[6] != 0.0)
    p, g, m, v = p[lo:hi], g[lo:hi], state[0, lo:hi], state[1, lo:hi]
    vmax = _row(state, 2, lo, hi, amsgrad)
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        d, pi, squared = _decay_and_prepare(p, g, i, clip_value, grad_scale, l2, decay)
        raw += squared
        mi, vi = _update_moments(m, v, i, d, beta1, beta2)
        if amsgrad:
            vm = np.float64(vmax[i])
            vm = vm if vm > vi else vi
            vmax[i] = vm
            vi = np.float64(vmax[i])
        p[i] = pi - step_size * mi / (math.sqrt(vi) / bc2_sqrt + eps)
    return raw


# ---- NAdam: hyper (lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay);
#      rows (exp_avg, exp_avg_sq); scalars (mu_product,)


@fastgd_njit(inline="always", **_SCALAR)
def _nadam_coefficients(hyper, t, scalars, coef):
    """With ``mu_t = beta1 (1 - 0.5 * 0.96^(t psi))``: ``mu_product *= mu_t``;
    ``coef = (lr (1 - mu_t) / (1 - mu_product), lr mu_{t+1} / (1 - mu_product mu_{t+1}), 1 - beta2^t)``."""
    lr, beta1, momentum_decay = hyper[0], hyper[1], hyper[5]
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * momentum_decay))
    scalars[0] *= mu
    coef[0] = lr * (1.0 - mu) / (1.0 - scalars[0])
    coef[1] = lr * mu_next / (1.0 - scalars[0] * mu_next)
    coef[2] = 1.0 - hyper[2] ** t


@fastgd_njit(inline="always", **_UPDATE)
def _nadam_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """Decoupled: ``p *= 1 - lr weight_decay`` and no L2 term in d.  Then
    ``m += (1 - beta1)(d - m)``, ``v = beta2 v + (1 - beta2) d^2``, ``a = sqrt(v / coef[2]) + eps``;
    ``p -= coef[0] d / a + coef[1] m / a``."""
    beta1, beta2, eps = hyper[1], hyper[2], hyper[3]
    grad_coef, avg_coef, bias_correction2 = coef[0], coef[1], coef[2]
    l2, decay = _decoupling(hyper[0], hyper[4], hyper[6] != 0.0)
    p, g, m, v = p[lo:hi], g[lo:hi], state[0, lo:hi], state[1, lo:hi]
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        d, pi, squared = _decay_and_prepare(p, g, i, clip_value, grad_scale, l2, decay)
        raw += squared
        mi, vi = _update_moments(m, v, i, d, beta1, beta2)
        denom = math.sqrt(vi / bias_correction2) + eps
        p[i] = pi - grad_coef * (d / denom) - avg_coef * (mi / denom)
    return raw


# ---- Adamax: hyper (lr, beta1, beta2, eps, weight_decay); rows (exp_avg, exp_inf)


@fastgd_njit(inline="always", **_SCALAR)
def _adamax_coefficients(hyper, t, scalars, coef):
    """The bias-corrected rate ``coef[0] = lr / (1 - beta1^t)``."""
    coef[0] = hyper[0] / (1.0 - hyper[1] ** t)


@fastgd_njit(inline="always", **_UPDATE)
def _adamax_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """``m += (1 - beta1)(d - m)``, ``u = max(beta2 u, |d| + eps)`` (a NaN of d propagates);
    ``p -= coef[0] m / u``."""
    beta1, beta2, eps, weight_decay, clr = hyper[1], hyper[2], hyper[3], hyper[4], coef[0]
    p, g, m, u = p[lo:hi], g[lo:hi], state[0, lo:hi], state[1, lo:hi]
    raw = 0.0
    for i in range(g.shape[0]):  # views: the index is known non-negative, so the loop vectorizes
        gi = np.float64(g[i])
        raw += gi * gi
        d = _prepared(np.float64(p[i]), gi, clip_value, grad_scale, weight_decay)
        mi = np.float64(m[i])
        m[i] = mi + (1.0 - beta1) * (d - mi)
        decayed = beta2 * np.float64(u[i])
        bound = abs(d) + eps
        u[i] = bound if (bound > decayed or bound != bound) else decayed
        p[i] = p[i] - clr * (np.float64(m[i]) / np.float64(u[i]))
    return raw


# ---- the dispatch: one entry per optimizer code in each function --------------------------


@fastgd_njit(**_SCALAR)
def _coefficients(code, hyper, t, scalars, coef):
    """Write optimizer ``code``'s coefficients for step ``t`` into ``coef`` and
    advance ``scalars`` to after the step; once per call, before any chunk."""
    tf = np.float64(t)  # so that beta ** t is Python's float power
    if code == _SGD:
        _sgd_coefficients(hyper, tf, scalars, coef)
    elif code == _ADAGRAD:
        _adagrad_coefficients(hyper, tf, scalars, coef)
    elif code == _ADAM:
        _adam_coefficients(hyper, tf, scalars, coef)
    elif code == _NADAM:
        _nadam_coefficients(hyper, tf, scalars, coef)
    elif code == _ADAMAX:
        _adamax_coefficients(hyper, tf, scalars, coef)


@fastgd_njit(inline="always", **_UPDATE)
def _sgd_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """SGD's loop with ``use_buffer`` (momentum on) made a constant."""
    if hyper[1] != 0.0:
        return _sgd_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, True)
    return _sgd_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, False)


@fastgd_njit(inline="always", **_UPDATE)
def _rmsprop_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """RMSprop's loop with ``use_buffer`` (momentum > 0) and ``centered`` made constants."""
    if hyper[4] > 0.0:
        if hyper[5] != 0.0:
            return _rmsprop_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, True, True)
        return _rmsprop_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, True, False)
    if hyper[5] != 0.0:
        return _rmsprop_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, False, True)
    return _rmsprop_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, False, False)


@fastgd_njit(inline="always", **_UPDATE)
def _adam_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """Adam's loop with ``amsgrad`` made a constant."""
    if hyper[5] != 0.0:
        return _adam_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, True)
    return _adam_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi, False)


@fastgd_njit(**_UPDATE)
def _update_range(code, p, g, state, hyper, coef, clip_value, grad_scale, lo, hi):
    """Optimizer ``code``'s loop on ``[lo, hi)``; returns the raw ``sum g^2`` there."""
    return (_sgd_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _SGD else
            _adagrad_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _ADAGRAD else
            _rmsprop_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _RMSPROP else
            _adam_update(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _ADAM else
            _nadam_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _NADAM else
            _adamax_loop(p, g, state, hyper, coef, clip_value, grad_scale, lo, hi) if code == _ADAMAX else
            math.nan)  # not an optimizer code: nothing updated


# ---- whole updates: serial, or in chunks -------------------------------------------------


@fastgd_njit(**_UPDATE)
def _update(code, p, g, state, scalars, hyper, step, clip_value, grad_scale, lo, hi):
    """Step ``step`` of optimizer ``code`` on ``[lo, hi)``, serially: the coefficients
    (``scalars`` advanced), then the loop.  Returns the raw ``sum g^2``."""
    coef = np.empty(_N_COEF)
    _coefficients(code, hyper, step, scalars, coef)
    return _update_range(code, p, g, state, hyper, coef, clip_value, grad_scale, lo, hi)


@fastgd_njit(**_PARALLEL)
def _update_parallel(code, p, g, state, scalars, hyper, step, clip_value, grad_scale, partial, n_chunks):
    """As :func:`_update` on the whole of ``p``, chunk ``c``'s sum in ``partial[c]``."""
    coef = np.empty(_N_COEF)
    _coefficients(code, hyper, step, scalars, coef)
    n = p.shape[0]
    for c in prange(n_chunks):
        lo, hi = chunk(c, n, n_chunks)
        partial[c] = _update_range(code, p, g, state, hyper, coef, clip_value, grad_scale, lo, hi)


@fastgd_njit(**_PARALLEL)
def _norm_parallel(g, clip_value, partial, n_chunks):
    n = g.shape[0]
    for c in prange(n_chunks):
        lo, hi = chunk(c, n, n_chunks)
        partial[c, 0], partial[c, 1] = _squared_norm_range(g, clip_value, lo, hi)


def squared_norm(g, *, clip_value, n_threads):
    """``(sum g^2, sum clamp(g, -c, c)^2)``, summed in float64."""
    n_chunks = n_chunks_for(g.shape[0], n_threads)
    if n_chunks == 1:
        raw, clipped = _squared_norm_range(g, float(clip_value), 0, g.shape[0])
        return float(raw), float(clipped)
    partial = np.zeros((n_chunks, 2))
    run_parallel(_norm_parallel, n_chunks, g, float(clip_value), partial)
    return float(partial[:, 0].sum()), float(partial[:, 1].sum())


def optimizer_update(p, g, state, scalars, *, code, hyper, step, clip_value, grad_scale, n_threads):
    """Step t = ``step`` of optimizer ``code`` on ``p``, in place (see ``_spec``): the
    coefficients once, then the fused loop over chunks.  Returns the raw ``sum g^2``."""
    args = (int(code), p, g, state, scalars, np.asarray(hyper, dtype=np.float64), int(step), float(clip_value),
            float(grad_scale))
    n_chunks = n_chunks_for(p.shape[0], n_threads)
    if n_chunks == 1:
        return float(_update(*args, 0, p.shape[0]))
    partial = np.zeros(n_chunks)
    run_parallel(_update_parallel, n_chunks, *args, partial)
    return float(partial.sum())
