"""Pure NumPy kernels: the readable oracle and the always-available fallback.

Every function implements the formula stated in :mod:`fastgd.backends._spec`
with vectorized NumPy, in the same numerical formulation as the compiled
backends.  ``n_threads`` is accepted for interface parity (the signatures are
the contract's, exactly); NumPy's BLAS picks its own threads.
"""

import math

import numpy as np

from fastgd.backends._spec import ACTIVATION_CODES, KERNELS, OUTPUT_CODES

__all__ = list(KERNELS)


def _exp_neg_abs(z):
    """``exp(-|z|)``: in (0, 1], never overflows."""
    return np.exp(-np.abs(z))


def sigmoid(z, out, *, n_threads):
    """``1/(1+e)`` for z >= 0, ``e/(1+e)`` for z < 0, with ``e = exp(-|z|)``."""
    e = _exp_neg_abs(z)
    np.divide(np.where(z >= 0, 1, e), 1 + e, out=out)


def log1pexp(z, out, *, n_threads):
    """``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``."""
    np.add(np.maximum(z, 0), np.log1p(_exp_neg_abs(z)), out=out)


def linear_predict(X, w, b, out, *, n_threads):
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


def logistic_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Sample-weighted mean binary cross-entropy of ``X w + b`` and its gradient."""
    z = X @ w + X.dtype.type(b)
    loss_i, dz = logistic_terms(z, y)
    loss, residual = _weighted_mean_and_residual(loss_i, dz, sample_weight)
    return _finish(X, residual, grad_w, loss)


def squared_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Sample-weighted mean of ``(X w + b - y)^2 / 2`` and its gradient."""
    dz = X @ w + X.dtype.type(b) - y
    loss, residual = _weighted_mean_and_residual(0.5 * dz * dz, dz, sample_weight)
    return _finish(X, residual, grad_w, loss)


def softmax_terms(Z, y):
    """Per-sample softmax cross-entropy ``l`` and ``dl/dZ`` from logits ``Z`` (n, k), in float64:
    ``l = lse - Z[y]`` with the stable log-sum-exp, ``dl/dZ = softmax(Z) - onehot(y)``."""
    Z = Z.astype(np.float64, copy=False)
    top = Z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.sum(np.exp(Z - top), axis=1))
    rows, labels = np.arange(Z.shape[0]), y.astype(np.intp)
    dZ = np.exp(Z - lse[:, None])
    dZ[rows, labels] -= 1.0
    return lse - Z[rows, labels], dZ


def softmax_loss_grad(X, y, W, b, sample_weight, grad_W, grad_b, *, n_threads):
    """Sample-weighted mean softmax cross-entropy of ``X W + b`` and its gradient."""
    loss_i, dZ = softmax_terms(X @ W + b, y)
    if sample_weight is None:
        total, loss = X.shape[0], float(np.sum(loss_i)) / X.shape[0]
    else:
        weights = sample_weight.astype(np.float64)
        total = float(np.sum(weights))
        loss = float(np.dot(weights, loss_i)) / total
        dZ *= weights[:, None]
    residual = (dZ / total).astype(X.dtype)
    np.matmul(X.T, residual, out=grad_W)
    grad_b[...] = np.sum(dZ, axis=0) / total
    return loss


# ---- optimizers -------------------------------------------------------------------------


def _sum_of_squares(g):
    g64 = g.astype(np.float64, copy=False)
    return float(np.dot(g64, g64))


def _clamp(g, clip_value):
    """``clamp(g, -c, c)``; NaN stays NaN."""
    return np.clip(g, -clip_value, clip_value) if np.isfinite(clip_value) else g


def squared_norm(g, *, clip_value, n_threads):
    """``(sum g^2, sum clamp(g, -c, c)^2)`` in float64."""
    return _sum_of_squares(g), _sum_of_squares(_clamp(g, clip_value))


# One function per optimizer code: ``rule(p, g, state, scalars, hyper, t)`` updates
# ``p``, the state rows and the scalars from the clipped and scaled gradient ``g``
# (the rule adds its own weight decay).


def _with_l2(p, g, weight_decay):
    """The L2-decayed gradient ``g + weight_decay * p``."""
    return g + weight_decay * p if weight_decay != 0.0 else g


def _sgd(p, g, state, scalars, hyper, t):
    """``b = d`` (first) or ``mu b + (1 - dampening) d``; ``p -= lr (d + mu b)`` (Nesterov) or ``lr b``."""
    lr, momentum, dampening, weight_decay, nesterov = hyper
    d = _with_l2(p, g, weight_decay)
    direction = d
    if momentum != 0.0:
        buffer = state[0]
        if scalars[0] == 0.0:
            buffer[...] = d
            scalars[0] = 1.0
        else:
            buffer *= momentum
            buffer += (1 - dampening) * d
        direction = d + momentum * buffer if nesterov else buffer
    p -= lr * direction


def _adagrad(p, g, state, scalars, hyper, t):
    """``s += d^2``; ``p -= lr / (1 + (t - 1) lr_decay) d / (sqrt(s) + eps)``."""
    lr, lr_decay, weight_decay, eps = hyper
    d = _with_l2(p, g, weight_decay)
    state_sum = state[0]
    state_sum += d * d
    p -= (lr / (1 + (t - 1) * lr_decay)) * d / (np.sqrt(state_sum) + eps)


def _rmsprop(p, g, state, scalars, hyper, t):
    """``v = alpha v + (1 - alpha) d^2``; ``a = sqrt(v [- m^2, clamped at 0]) + eps``; momentum or plain step."""
    lr, alpha, eps, weight_decay, momentum, centered = hyper
    d = _with_l2(p, g, weight_decay)
    square_avg, momentum_buffer, grad_avg = state[0], state[1], state[2]
    square_avg *= alpha
    square_avg += (1 - alpha) * d * d
    if centered:
        grad_avg += (1 - alpha) * (d - grad_avg)
        avg = np.sqrt(np.maximum(square_avg - grad_avg * grad_avg, 0)) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0.0:
        momentum_buffer *= momentum
        momentum_buffer += d / avg
        p -= lr * momentum_buffer
    else:
        p -= lr * d / avg


def _adam(p, g, state, scalars, hyper, t):
    """Adam (L2 decay in d) or AdamW (``p *= 1 - lr wd``); bias-corrected moments."""
    lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled = hyper
    exp_avg, exp_avg_sq = state[0], state[1]
    d = g if decoupled else _with_l2(p, g, weight_decay)
    if decoupled:
        p *= 1 - lr * weight_decay
    exp_avg += (1 - beta1) * (d - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * d * d
    second_moment = exp_avg_sq
    if amsgrad:
        np.maximum(state[2], exp_avg_sq, out=state[2])
        second_moment = state[2]
    denom = np.sqrt(second_moment) / math.sqrt(1 - beta2**t) + eps
    p -= (lr / (1 - beta1**t)) * exp_avg / denom


def _nadam(p, g, state, scalars, hyper, t):
    """NAdam: ``mu_t = beta1 (1 - 0.5 * 0.96^(t psi))``, ``mu_product *= mu_t``; Nesterov-weighted d and m over
    ``sqrt(v / (1 - beta2^t)) + eps``; L2 decay in d, or decoupled ``p *= 1 - lr wd``."""
    lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled = hyper
    exp_avg, exp_avg_sq = state[0], state[1]
    d = g if decoupled else _with_l2(p, g, weight_decay)
    if decoupled:
        p *= 1 - lr * weight_decay
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    scalars[0] *= mu
    exp_avg += (1 - beta1) * (d - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * d * d
    denom = np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps
    p -= (lr * (1 - mu) / (1 - scalars[0])) * (d / denom)
    p -= (lr * mu_next / (1 - scalars[0] * mu_next)) * (exp_avg / denom)


def _adamax(p, g, state, scalars, hyper, t):
    """Adamax: ``m += (1 - beta1)(d - m)``, ``u = max(beta2 u, |d| + eps)``; ``p -= lr / (1 - beta1^t) m / u``."""
    lr, beta1, beta2, eps, weight_decay = hyper
    exp_avg, exp_inf = state[0], state[1]
    d = _with_l2(p, g, weight_decay)
    exp_avg += (1 - beta1) * (d - exp_avg)
    exp_inf *= beta2
    np.maximum(exp_inf, np.abs(d) + eps, out=exp_inf)
    p -= (lr / (1 - beta1**t)) * (exp_avg / exp_inf)


_RULES = {0: _sgd, 1: _adagrad, 2: _rmsprop, 3: _adam, 4: _nadam, 5: _adamax}  # by optimizer code


def optimizer_update(p, g, state, scalars, *, code, hyper, step, clip_value, grad_scale, n_threads):
    """One step of optimizer ``code`` on ``p``: clip and scale the gradient, apply the rule;
    return the raw gradient's squared norm."""
    raw_squared_norm = _sum_of_squares(g)
    g = _clamp(g, clip_value)
    if grad_scale != 1.0:
        g = g * grad_scale
    _RULES[code](p, g.astype(p.dtype, copy=False), state, scalars, [float(h) for h in hyper], float(step))
    return raw_squared_norm


# ---- training ---------------------------------------------------------------------------

_LOSS_KERNELS = (logistic_loss_grad, squared_loss_grad)  # by LOSS_CODES


def _clip_scale(g, clip_value, clip_norm):
    """The global-norm clip factor ``min(1, clip_norm / (||clamp(g)|| + 1e-6))`` (1 without clip_norm)."""
    if not math.isfinite(clip_norm):
        return 1.0
    _, clipped_sq = squared_norm(g, clip_value=clip_value, n_threads=1)
    return min(1.0, clip_norm / (math.sqrt(clipped_sq) + 1e-6))


def _epoch_of_steps(sample_weight, order, params, state, scalars, grad_mean, batch_gradient, n_weights, *, optimizer,
                    hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm):
    """The mini-batch rule of the training kernels.  Per batch ``batch_gradient(rows, weights, grad)``
    writes the batch's weighted mean gradient and returns its mean loss; the penalty ``alpha/2 ||w||^2``
    covers ``params[:n_weights]``; clipping; the weights step with ``hyper``, the rest with
    ``intercept_hyper``, both from the scalar state before the step."""
    recorded = np.empty_like(params)
    grad_sum = np.zeros(params.shape[0])
    loss_sum = weight_sum = 0.0
    n_steps = 0
    for start in range(0, order.shape[0], batch_size):
        rows = order[start:start + batch_size]
        weights = None if sample_weight is None else sample_weight[rows]
        batch_weight = float(len(rows)) if weights is None else float(np.sum(weights, dtype=np.float64))
        if batch_weight == 0.0:
            continue
        batch_loss = batch_gradient(rows, weights, recorded)
        w64 = params[:n_weights].astype(np.float64)
        batch_loss += 0.5 * alpha * float(np.dot(w64, w64))
        stepped = recorded.copy()
        recorded[:n_weights] += alpha * params[:n_weights]
        if not decoupled:
            stepped[:] = recorded
        grad_scale = _clip_scale(stepped, clip_value, clip_norm)
        n_steps += 1
        options = dict(code=optimizer, step=step + n_steps, clip_value=clip_value, grad_scale=grad_scale, n_threads=1)
        optimizer_update(params[:n_weights], stepped[:n_weights], state[:, :n_weights], scalars.copy(), hyper=hyper,
                         **options)
        optimizer_update(params[n_weights:], stepped[n_weights:], state[:, n_weights:], scalars, hyper=intercept_hyper,
                         **options)
        grad_sum += recorded
        loss_sum += batch_loss * batch_weight
        weight_sum += batch_weight
    grad_mean[:] = grad_sum / max(n_steps, 1)
    return loss_sum / weight_sum if weight_sum > 0 else math.nan, n_steps


def minibatch_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, *, loss, optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, fit_intercept, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps: per batch the penalized loss+gradient, clipping, the update."""
    d = X.shape[1]

    def batch_gradient(rows, weights, grad):
        loss_value, grad_b = _LOSS_KERNELS[loss](X[rows], y[rows], params[:d], float(params[d]), weights, grad[:d],
                                                 n_threads=1)
        grad[d] = grad_b if fit_intercept else 0.0
        return loss_value

    return _epoch_of_steps(sample_weight, order, params, state, scalars, grad_mean, batch_gradient, d,
                           optimizer=optimizer, hyper=hyper, intercept_hyper=intercept_hyper, step=step,
                           batch_size=batch_size, alpha=alpha, decoupled=decoupled, clip_value=clip_value,
                           clip_norm=clip_norm)


def network_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, active, *, sizes, activation, output, optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps of a network: per batch backpropagation (``fastgd.network``),
    the penalty, clipping and the two updates (weights, biases)."""
    from fastgd import network

    net = network.Network(tuple(int(h) for h in sizes), _name_of(ACTIVATION_CODES, activation), _name_of(OUTPUT_CODES, output))
    targets = y[:, 0] if net.output != "identity" else y

    def batch_gradient(rows, weights, grad):
        return net.loss_grad(X[rows], targets[rows], weights, params, grad, record=True)

    result = _epoch_of_steps(sample_weight, order, params, state, scalars, grad_mean, batch_gradient, net.n_weights,
                             optimizer=optimizer, hyper=hyper, intercept_hyper=intercept_hyper, step=step,
                             batch_size=batch_size, alpha=alpha, decoupled=decoupled, clip_value=clip_value,
                             clip_norm=clip_norm)
    if net.active is not None:
        active |= np.concatenate(net.active).astype(np.uint8)
    return result


def _name_of(codes, code):
    return next(name for name, value in codes.items() if value == code)
