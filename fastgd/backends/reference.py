"""Pure NumPy kernels: the readable oracle and the always-available fallback.

Every function implements the formula stated in :mod:`fastgd.backends._spec`
with vectorized NumPy, in the same numerical formulation as the compiled
backends.  ``n_threads`` is accepted for interface parity; NumPy's BLAS picks
its own threads.
"""

import math

import numpy as np

from fastgd.backends._spec import KERNELS

__all__ = list(KERNELS)


def _exp_neg_abs(z):
    """``exp(-|z|)``: in (0, 1], never overflows."""
    return np.exp(-np.abs(z))


def sigmoid(z, out, *, n_threads=1):
    """``1/(1+e)`` for z >= 0, ``e/(1+e)`` for z < 0, with ``e = exp(-|z|)``."""
    e = _exp_neg_abs(z)
    np.divide(np.where(z >= 0, 1, e), 1 + e, out=out)


def log1pexp(z, out, *, n_threads=1):
    """``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``."""
    np.add(np.maximum(z, 0), np.log1p(_exp_neg_abs(z)), out=out)


def linear_predict(X, w, b, out, *, n_threads=1):
    """``out = X w + b``."""
    np.matmul(X, w, out=out)
    out += out.dtype.type(b)


def _weighted_mean_and_residual(loss_i, dz, sample_weight):
    """Return ``(sum s l / S, s dz / S)`` with the loss summed in float64."""
    if sample_weight is None:
        total = dz.shape[0]
        loss = np.sum(loss_i, dtype=np.float64) / total
        return loss, dz / dz.dtype.type(total)
    total = np.sum(sample_weight, dtype=np.float64)
    loss = np.dot(sample_weight.astype(np.float64), loss_i.astype(np.float64)) / total
    return loss, (sample_weight * dz) / dz.dtype.type(total)


def _finish(X, residual, grad_w, loss):
    """Write ``grad_w = X^T r`` and return ``(loss, sum r)`` as floats."""
    np.matmul(residual, X, out=grad_w)
    return float(loss), float(np.sum(residual, dtype=np.float64))


def logistic_terms(z, y):
    """Per-sample binary cross-entropy ``l`` and ``dl/dz`` from logits ``z``.

    With ``e = exp(-|z|)``: for ``z > 0``, ``l = log1p(e) + (1 - y) z`` and
    ``dl/dz = ((1 - y) - y e) / (1 + e)``; for ``z <= 0``,
    ``l = log1p(e) - y z`` and ``dl/dz = ((1 - y) e - y) / (1 + e)``.
    """
    e = _exp_neg_abs(z)
    positive = z > 0
    loss_i = np.log1p(e) + np.where(positive, (1 - y) * z, -y * z)
    dz = np.where(positive, (1 - y) - y * e, (1 - y) * e - y) / (1 + e)
    return loss_i, dz


def logistic_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads=1):
    """Sample-weighted mean binary cross-entropy of ``X w + b`` and its gradient."""
    z = X @ w + X.dtype.type(b)
    loss_i, dz = logistic_terms(z, y)
    loss, residual = _weighted_mean_and_residual(loss_i, dz, sample_weight)
    return _finish(X, residual, grad_w, loss)


def squared_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads=1):
    """Sample-weighted mean of ``(X w + b - y)^2 / 2`` and its gradient."""
    dz = X @ w + X.dtype.type(b) - y
    loss, residual = _weighted_mean_and_residual(0.5 * dz * dz, dz, sample_weight)
    return _finish(X, residual, grad_w, loss)


# ---- optimizers -------------------------------------------------------------------------


def _sum_of_squares(g):
    g64 = g.astype(np.float64, copy=False)
    return float(np.dot(g64, g64))


def _clamp(g, clip_value):
    """``clamp(g, -c, c)``; NaN stays NaN."""
    return np.clip(g, -clip_value, clip_value) if np.isfinite(clip_value) else g


def _prepared_gradient(p, g, clip_value, grad_scale, weight_decay):
    """Clip by value, scale by the norm clip, add L2 decay; and the raw squared norm."""
    raw_squared_norm = _sum_of_squares(g)
    g = _clamp(g, clip_value)
    if grad_scale != 1.0:
        g = g * grad_scale
    if weight_decay != 0.0:
        g = g + weight_decay * p
    return g, raw_squared_norm


def squared_norm(g, *, clip_value, n_threads=1):
    """``(sum g^2, sum clamp(g, -c, c)^2)`` in float64."""
    return _sum_of_squares(g), _sum_of_squares(_clamp(g, clip_value))


def sgd_step(p, g, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, n_threads=1):
    """``b = g`` (first) or ``mu b + (1 - dampening) g``; ``d = g + mu b`` (Nesterov) or ``b``; ``p -= lr d``."""
    g, raw_squared_norm = _prepared_gradient(p, g, clip_value, grad_scale, weight_decay)
    direction = g
    if momentum != 0.0:
        if first_step:
            momentum_buffer[...] = g
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * g
        direction = g + momentum * momentum_buffer if nesterov else momentum_buffer
    p -= lr * direction
    return raw_squared_norm


def adagrad_step(p, g, state_sum, *, lr, lr_decay, weight_decay, eps, step, clip_value, grad_scale, n_threads=1):
    """``s += g^2``; ``p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)``."""
    g, raw_squared_norm = _prepared_gradient(p, g, clip_value, grad_scale, weight_decay)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += g * g
    p -= clr * g / (np.sqrt(state_sum) + eps)
    return raw_squared_norm


def rmsprop_step(p, g, square_avg, momentum_buffer, grad_avg, *, lr, alpha, eps, weight_decay, momentum, centered, clip_value, grad_scale, n_threads=1):
    """``v = alpha v + (1 - alpha) g^2``; ``a = sqrt(v [- m^2, clamped at 0]) + eps``; momentum or plain step."""
    g, raw_squared_norm = _prepared_gradient(p, g, clip_value, grad_scale, weight_decay)
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if centered:
        grad_avg += (1 - alpha) * (g - grad_avg)
        avg = np.sqrt(np.maximum(square_avg - grad_avg * grad_avg, 0)) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0.0:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        p -= lr * momentum_buffer
    else:
        p -= lr * g / avg
    return raw_squared_norm


def adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad, step, clip_value, grad_scale, n_threads=1):
    """Adam (L2 decay in g) or AdamW (``p *= 1 - lr wd``); bias-corrected moments."""
    l2_decay = 0.0 if decoupled_weight_decay else weight_decay
    g, raw_squared_norm = _prepared_gradient(p, g, clip_value, grad_scale, l2_decay)
    if decoupled_weight_decay:
        p *= 1 - lr * weight_decay
    exp_avg += (1 - beta1) * (g - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    second_moment = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    denom = np.sqrt(second_moment) / math.sqrt(1 - beta2**step) + eps
    p -= (lr / (1 - beta1**step)) * exp_avg / denom
    return raw_squared_norm


# ---- training ---------------------------------------------------------------------------

_LOSS_KERNELS = (logistic_loss_grad, squared_loss_grad)  # by LOSS_CODES


def _optimizer_update(code, hyper, params, grad, state, step, clip_value, grad_scale):
    """The optimizer ``code`` applied by its ``*_step`` kernel (no weight decay)."""
    common = dict(weight_decay=0.0, clip_value=clip_value, grad_scale=grad_scale)
    if code == 0:
        lr, momentum, dampening, nesterov = hyper[:4]
        sgd_step(params, grad, state[0] if momentum != 0 else None, lr=lr, momentum=momentum, dampening=dampening,
                 nesterov=bool(nesterov), first_step=step == 1, **common)
    elif code == 1:
        lr, lr_decay, eps = hyper[:3]
        adagrad_step(params, grad, state[0], lr=lr, lr_decay=lr_decay, eps=eps, step=step, **common)
    elif code == 2:
        lr, alpha, eps, momentum, centered = hyper[:5]
        rmsprop_step(params, grad, state[0], state[1] if momentum > 0 else None, state[2] if centered else None,
                     lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=bool(centered), **common)
    else:
        lr, beta1, beta2, eps, amsgrad = hyper[:5]
        adam_step(params, grad, state[0], state[1], state[2] if amsgrad else None, lr=lr, beta1=beta1, beta2=beta2,
                  eps=eps, decoupled_weight_decay=False, amsgrad=bool(amsgrad), step=step, **common)


def minibatch_epoch(X, y, sample_weight, order, params, state, grad_mean, *, loss, optimizer, hyper, step, batch_size, alpha, fit_intercept, clip_value, clip_norm, n_threads=1):
    """One epoch of mini-batch steps: per batch the penalized loss+gradient, clipping, the update."""
    d = X.shape[1]
    w = params[:d]
    grad = np.empty(d + 1, dtype=X.dtype)
    grad_sum = np.zeros(d + 1)
    loss_sum = weight_sum = 0.0
    n_steps = 0
    for start in range(0, X.shape[0], batch_size):
        rows = order[start:start + batch_size]
        weights = None if sample_weight is None else sample_weight[rows]
        batch_weight = float(len(rows)) if weights is None else float(np.sum(weights, dtype=np.float64))
        if batch_weight == 0.0:
            continue
        batch_loss, grad_b = _LOSS_KERNELS[loss](X[rows], y[rows], w, float(params[d]), weights, grad[:d])
        w64 = w.astype(np.float64)
        batch_loss += 0.5 * alpha * float(np.dot(w64, w64))
        grad[:d] += alpha * w
        grad[d] = grad_b if fit_intercept else 0.0
        raw_sq, clipped_sq = squared_norm(grad, clip_value=clip_value)
        grad_scale = min(1.0, clip_norm / (math.sqrt(clipped_sq) + 1e-6)) if math.isfinite(clip_norm) else 1.0
        n_steps += 1
        _optimizer_update(optimizer, hyper, params, grad, state, step + n_steps, clip_value, grad_scale)
        grad_sum += grad
        loss_sum += batch_loss * batch_weight
        weight_sum += batch_weight
    grad_mean[:] = grad_sum / max(n_steps, 1)
    return loss_sum / weight_sum if weight_sum > 0 else math.nan, n_steps
