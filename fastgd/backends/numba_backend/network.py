"""Numba training kernel of a fully connected network: a whole mini-batch epoch compiled (see ``_spec``).

Per batch: the rows are gathered, the forward pass multiplies by each layer
(``np.dot``: BLAS on contiguous arrays) with the bias and the activation fused
into one pass over the product, the output loss and ``dl/dZ`` are computed per
row in float64, the backward pass multiplies back (``A^T delta`` and
``delta W^T``, the activation's derivative fused), the penalty and clipping
are applied, and the optimizer's update from :mod:`.optim` steps the weights
and the biases of every layer at once on the flat parameter vector.
"""

import math

import numpy as np

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend.training import _clip_scale, _gather, _penalize, _update_both

_EPOCH = dict(nogil=True, error_model="numpy", fastmath={"contract"})
_IDENTITY, _LOGISTIC, _TANH, _RELU = 0, 1, 2, 3  # _spec.ACTIVATION_CODES
_SIGMOID_OUT, _SOFTMAX_OUT, _IDENTITY_OUT = 0, 1, 2  # _spec.OUTPUT_CODES


@fastgd_njit(inline="always", **_EPOCH)
def _activate(code, z):
    """identity, logistic (stable), tanh or relu of ``z``, by code."""
    sigmoid = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return sigmoid if code == _LOGISTIC else math.tanh(z) if code == _TANH else max(z, 0.0) if code == _RELU else z


@fastgd_njit(inline="always", **_EPOCH)
def _derivative(code, a):
    """``act'`` written with the output ``a``: ``a (1 - a)``, ``1 - a^2``, ``[a > 0]`` or 1."""
    return a * (1.0 - a) if code == _LOGISTIC else 1.0 - a * a if code == _TANH else (1.0 if a > 0 else 0.0) if code == _RELU else 1.0


@fastgd_njit(**_EPOCH)
def _output_terms(output, Z, y, s, weighted, m, delta):
    """Per row the loss (float64, summed with the weights) and ``delta = s dl/dZ`` (unnormalized);
    returns ``(sum s l, sum s)``."""
    k = Z.shape[1]
    loss_sum = 0.0
    weight = 0.0
    for r in range(m):
        sr = np.float64(s[r]) if weighted else 1.0
        if output == _SIGMOID_OUT:
            z, t = np.float64(Z[r, 0]), np.float64(y[r, 0])
            loss = (z if z > 0 else 0.0) + math.log1p(math.exp(-abs(z))) - t * z
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            delta[r, 0] = sr * (p - t)
        elif output == _SOFTMAX_OUT:
            top = -np.inf
            for c in range(k):
                top = max(top, np.float64(Z[r, c]))
            total = 0.0
            for c in range(k):
                total += math.exp(np.float64(Z[r, c]) - top)
            lse = top + math.log(total)
            label = np.intp(y[r, 0])
            loss = lse - np.float64(Z[r, label])
            for c in range(k):
                delta[r, c] = sr * (math.exp(np.float64(Z[r, c]) - lse) - (1.0 if c == label else 0.0))
        else:
            loss = 0.0
            for c in range(k):
                diff = np.float64(Z[r, c]) - np.float64(y[r, c])
                loss += 0.5 * diff * diff / k
                delta[r, c] = sr * diff / k
        loss_sum += sr * loss
        weight += sr
    return loss_sum, weight


@fastgd_njit(**_EPOCH)
def _backprop(Xb, yb, sb, weighted, m, params, sizes, activation, output, grad, active):
    """Forward and backward over the batch's first ``m`` rows: writes the weighted mean gradient into
    ``grad`` (X's dtype) and returns ``(weighted mean loss, batch weight)``; marks active units."""
    n_layers = sizes.shape[0] - 1
    dtype = Xb.dtype
    w_start = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        w_start[l + 1] = w_start[l] + sizes[l] * sizes[l + 1]
    b_start = w_start[n_layers]
    layers = [np.ascontiguousarray(Xb[:m])]
    offset_b = b_start
    hidden = 0
    for l in range(n_layers):
        W = np.ascontiguousarray(params[w_start[l]:w_start[l + 1]]).reshape(sizes[l], sizes[l + 1])
        Z = np.dot(layers[l], W)
        for r in range(m):
            for c in range(sizes[l + 1]):
                z = Z[r, c] + params[offset_b + c]
                if l < n_layers - 1:
                    z = _activate(activation, np.float64(z))
                    if z != 0:
                        active[hidden + c] = 1
                Z[r, c] = z
        offset_b += sizes[l + 1]
        if l < n_layers - 1:
            hidden += sizes[l + 1]
        layers.append(Z)
    delta = np.empty((m, sizes[n_layers]), dtype)
    loss_sum, weight = _output_terms(output, layers[n_layers], yb, sb, weighted, m, delta)
    inverse = 1.0 / weight
    for r in range(m):
        for c in range(delta.shape[1]):
            delta[r, c] = delta[r, c] * inverse
    offset_b = params.shape[0]
    for l in range(n_layers - 1, -1, -1):
        offset_b -= sizes[l + 1]
        gW = np.dot(np.ascontiguousarray(layers[l].T), delta)
        grad[w_start[l]:w_start[l + 1]] = gW.ravel()
        for c in range(sizes[l + 1]):
            acc = 0.0
            for r in range(m):
                acc += delta[r, c]
            grad[offset_b + c] = acc
        if l > 0:
            W = np.ascontiguousarray(params[w_start[l]:w_start[l + 1]]).reshape(sizes[l], sizes[l + 1])
            below = np.dot(delta, np.ascontiguousarray(W.T))
            A = layers[l]
            for r in range(m):
                for c in range(sizes[l]):
                    below[r, c] = below[r, c] * _derivative(activation, np.float64(A[r, c]))
            delta = below
    return loss_sum * inverse, weight


@fastgd_njit(**_EPOCH)
def _epoch(X, y, s, weighted, order, params, state, scalars, grad_mean, active, sizes, activation, output, code,
           hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm):
    n, d = X.shape
    rows = min(batch_size, n)
    n_weights = 0
    for l in range(sizes.shape[0] - 1):
        n_weights += sizes[l] * sizes[l + 1]
    Xb = np.empty((rows, d), X.dtype)
    yb = np.empty((rows, y.shape[1]), y.dtype)
    yrow = np.empty(rows, y.dtype)
    sb = np.empty(rows, X.dtype)
    grad = np.empty(params.shape[0], X.dtype)
    recorded = np.empty(params.shape[0], X.dtype)
    stepped = grad if decoupled else recorded
    before = np.empty_like(scalars)
    grad_sum = np.zeros(params.shape[0])
    loss_sum = 0.0
    weight_sum = 0.0
    n_steps = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        _gather(X, y[:, 0], s, weighted, order, start, m, Xb, yrow, sb)
        for r in range(m):
            for c in range(y.shape[1]):
                yb[r, c] = y[order[start + r], c]
        batch_loss, batch_weight = _backprop(Xb, yb, sb, weighted, m, params, sizes, activation, output, grad, active)
        if batch_weight == 0.0:
            continue
        penalty = _penalize(params, grad, recorded, n_weights, alpha)
        grad_scale = _clip_scale(stepped, clip_value, clip_norm)
        n_steps += 1
        _update_both(code, params, stepped, state, scalars, before, hyper, intercept_hyper, step + n_steps, clip_value,
                     grad_scale, n_weights)
        for j in range(params.shape[0]):
            grad_sum[j] += recorded[j]
        loss_sum += (batch_loss + 0.5 * alpha * penalty) * batch_weight
        weight_sum += batch_weight
    for j in range(params.shape[0]):
        grad_mean[j] = grad_sum[j] / max(n_steps, 1)
    return (loss_sum / weight_sum if weight_sum > 0.0 else np.nan), n_steps


def network_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, active, *, sizes, activation, output,
                  optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps of a network (see ``_spec.network_epoch``); returns ``(loss, n_steps)``."""
    weighted = sample_weight is not None
    s = sample_weight if weighted else X[:, 0] if X.shape[1] else np.zeros(X.shape[0], X.dtype)
    loss, n_steps = _epoch(X, y, s, weighted, order, params, state, scalars, grad_mean, active,
                           np.asarray(sizes, dtype=np.int64), int(activation), int(output), int(optimizer),
                           np.asarray(hyper, dtype=np.float64), np.asarray(intercept_hyper, dtype=np.float64), int(step),
                           int(batch_size), float(alpha), bool(decoupled), float(clip_value), float(clip_norm))
    return float(loss), int(n_steps)
