"""Numba training kernel of a fully connected network: a whole mini-batch epoch compiled (see ``_spec``).

Per batch, in chunks of rows on threads (``prange``): the rows are gathered
into preallocated layer buffers, the forward pass multiplies by each layer
(``np.dot`` into the next buffer: BLAS on contiguous arrays) with the bias and
the activation fused into one pass over the product, the output loss and
``dl/dZ`` are computed per row in float64, the backward pass multiplies back
(``A^T delta`` and ``delta W^T``, the activation's derivative fused); then the
chunks' gradients are added, the penalty and clipping applied, and the
optimizer's update from :mod:`.optim` steps the weights and the biases of
every layer at once on the flat parameter vector.
"""

import math

import numpy as np
from numba import prange

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend._threads import chunk as _chunk
from fastgd.backends.numba_backend._threads import n_chunks_for, run_parallel
from fastgd.backends.numba_backend.training import _clip_scale, _penalize, _update_both

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


@fastgd_njit(inline="always", **_EPOCH)
def _bias_activate(activation, Z, bias, live):
    """``Z = act(Z + bias)`` row by row, the activation chosen outside the loops; ``live[c]`` keeps the
    largest ``|Z[:, c]|`` (a unit is active if it is ever non-zero)."""
    m, b = Z.shape
    if activation == _RELU or activation == _IDENTITY:
        for r in range(m):
            for c in range(b):
                z = Z[r, c] + bias[c]
                if activation == _RELU:
                    z = max(z, 0)
                Z[r, c] = z
                live[c] = max(live[c], abs(z))
    else:
        for r in range(m):
            for c in range(b):
                a = _activate(activation, np.float64(Z[r, c]) + np.float64(bias[c]))
                Z[r, c] = a
                live[c] = max(live[c], abs(Z[r, c]))


@fastgd_njit(inline="always", **_EPOCH)
def _times_derivative(activation, delta, A):
    """``delta *= act'(A)`` (``act'`` written with the output ``A``), the activation chosen outside the loops."""
    m, a = delta.shape
    if activation == _RELU:
        for r in range(m):
            for c in range(a):
                delta[r, c] = delta[r, c] if A[r, c] > 0 else 0 * delta[r, c]
    elif activation == _LOGISTIC:
        for r in range(m):
            for c in range(a):
                delta[r, c] *= A[r, c] * (1 - A[r, c])
    elif activation == _TANH:
        for r in range(m):
            for c in range(a):
                delta[r, c] *= 1 - A[r, c] * A[r, c]


@fastgd_njit(**_EPOCH)
def _chunk_backprop(X, y, s, weighted, order, lo, hi, params, sizes, n_weights, activation, output, inverse,
                    chunk_rows, work, grad, live, sums):
    """Gather rows ``order[lo:hi]`` and backpropagate them: ``grad`` gets ``inverse`` times their weighted
    gradient sum; returns ``inverse`` times their weighted loss sum.

    ``work`` (X's dtype) holds, each ``chunk_rows`` rows long: every layer's output (the first is the
    gathered X), ``delta``, ``below``, y and the sample weights; ``sums`` (float64) the widest layer's
    bias gradient; ``live`` one entry per hidden unit."""
    n_layers = sizes.shape[0] - 1
    m, d, ky = hi - lo, X.shape[1], y.shape[1]
    widest = 0
    offsets = np.empty(n_layers + 2, np.int64)  # of each layer's output in work, then of delta
    offsets[0] = 0
    for l in range(n_layers + 1):
        offsets[l + 1] = offsets[l] + chunk_rows * sizes[l]
        widest = max(widest, sizes[l])
    deltas = (offsets[n_layers + 1], offsets[n_layers + 1] + chunk_rows * widest)
    y_at = deltas[1] + chunk_rows * widest
    s_at = y_at + chunk_rows * ky
    A0 = work[:m * d].reshape(m, d)
    yb = work[y_at:y_at + m * ky].reshape(m, ky)
    sb = work[s_at:s_at + m]
    for r in range(m):
        i = order[lo + r]
        for j in range(d):
            A0[r, j] = X[i, j]
        for j in range(ky):
            yb[r, j] = y[i, j]
        if weighted:
            sb[r] = s[i]
    w_at, b_at, hidden = 0, n_weights, 0
    for l in range(n_layers):  # forward
        a, b = sizes[l], sizes[l + 1]
        A = work[offsets[l]:offsets[l] + m * a].reshape(m, a)
        Z = work[offsets[l + 1]:offsets[l + 1] + m * b].reshape(m, b)
        np.dot(A, params[w_at:w_at + a * b].reshape(a, b), Z)
        if l < n_layers - 1:
            _bias_activate(activation, Z, params[b_at:b_at + b], live[hidden:hidden + b])
            hidden += b
        else:
            for r in range(m):
                for c in range(b):
                    Z[r, c] += params[b_at + c]
        w_at += a * b
        b_at += b
    k = sizes[n_layers]
    delta = work[deltas[0]:deltas[0] + m * k].reshape(m, k)
    loss_sum, _ = _output_terms(output, work[offsets[n_layers]:offsets[n_layers] + m * k].reshape(m, k), yb, sb,
                                weighted, m, delta)
    for r in range(m):
        for c in range(k):
            delta[r, c] = delta[r, c] * inverse
    which = 0
    for l in range(n_layers - 1, -1, -1):  # backward
        a, b = sizes[l], sizes[l + 1]
        w_at -= a * b
        b_at -= b
        A = work[offsets[l]:offsets[l] + m * a].reshape(m, a)
        np.dot(A.T, delta, grad[w_at:w_at + a * b].reshape(a, b))
        sums[:b] = 0.0
        for r in range(m):
            for c in range(b):
                sums[c] += delta[r, c]
        for c in range(b):
            grad[b_at + c] = sums[c]
        if l > 0:
            which = 1 - which
            below = work[deltas[which]:deltas[which] + m * a].reshape(m, a)
            np.dot(delta, params[w_at:w_at + a * b].reshape(a, b).T, below)
            _times_derivative(activation, below, A)
            delta = below
    return loss_sum * inverse


@fastgd_njit(nogil=True, parallel=True)
def _batch_parallel(X, y, s, weighted, order, start, m, params, sizes, n_weights, activation, output, inverse,
                    chunk_rows, work, grads, live, sums, losses, n_chunks):
    """The batch ``order[start:start + m]`` in ``n_chunks`` chunks of rows, one thread each."""
    for c in prange(n_chunks):
        lo, hi = _chunk(c, m, n_chunks)
        losses[c] = _chunk_backprop(X, y, s, weighted, order, start + lo, start + hi, params, sizes, n_weights,
                                    activation, output, inverse, chunk_rows, work[c], grads[c], live[c], sums[c])


@fastgd_njit(**_EPOCH)
def _epoch(X, y, s, weighted, order, params, state, scalars, grad_mean, active, sizes, activation, output, code,
           hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm, n_chunks):
    n = X.shape[0]
    rows = min(batch_size, n)
    n_weights = 0
    width_sum, widest = 0, 0
    for l in range(sizes.shape[0] - 1):
        n_weights += sizes[l] * sizes[l + 1]
    for l in range(sizes.shape[0]):
        width_sum += sizes[l]
        widest = max(widest, sizes[l])
    chunk_rows = (rows + n_chunks - 1) // n_chunks
    work = np.empty((n_chunks, chunk_rows * (width_sum + 2 * widest + y.shape[1] + 1)), X.dtype)
    grads = np.empty((n_chunks, params.shape[0]), X.dtype)
    live = np.zeros((n_chunks, active.shape[0] + 1), X.dtype)
    sums = np.empty((n_chunks, widest))
    losses = np.empty(n_chunks)
    grad = grads[0]  # receives the other chunks' gradients
    recorded = np.empty(params.shape[0], X.dtype)
    stepped = grad if decoupled else recorded
    before = np.empty_like(scalars)
    grad_sum = np.zeros(params.shape[0])
    loss_sum = 0.0
    weight_sum = 0.0
    n_steps = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        batch_weight = np.float64(m)
        if weighted:
            batch_weight = 0.0
            for r in range(m):
                batch_weight += np.float64(s[order[start + r]])
        if batch_weight == 0.0:
            continue
        inverse = 1.0 / batch_weight
        chunks = min(n_chunks, m)
        if chunks == 1:
            losses[0] = _chunk_backprop(X, y, s, weighted, order, start, start + m, params, sizes, n_weights,
                                        activation, output, inverse, chunk_rows, work[0], grad, live[0], sums[0])
        else:
            _batch_parallel(X, y, s, weighted, order, start, m, params, sizes, n_weights, activation, output,
                            inverse, chunk_rows, work, grads, live, sums, losses, chunks)
        batch_loss = losses[0]
        for c in range(1, chunks):
            batch_loss += losses[c]
            for j in range(params.shape[0]):
                grad[j] += grads[c, j]
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
    for c in range(n_chunks):
        for j in range(active.shape[0]):
            if live[c, j] > 0:
                active[j] = 1
    return (loss_sum / weight_sum if weight_sum > 0.0 else np.nan), n_steps


def network_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, active, *, sizes, activation, output,
                  optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch steps of a network (see ``_spec.network_epoch``); returns ``(loss, n_steps)``.

    Each batch's rows are split into chunks (the count from ``n_threads`` and the batch's work only), each
    gathered, forwarded and backpropagated on its own thread with single-threaded BLAS into its own
    gradient, the gradients added in chunk order before the one update."""
    weighted = sample_weight is not None
    s = sample_weight if weighted else X[:, 0] if X.shape[1] else np.zeros(X.shape[0], X.dtype)
    sizes = np.asarray(sizes, dtype=np.int64)
    rows = min(int(batch_size), X.shape[0])
    n_chunks = min(n_chunks_for(rows * int(np.sum(sizes[:-1] * sizes[1:])) // 2, n_threads), rows)
    loss, n_steps = run_parallel(_epoch, n_chunks, X, y, s, weighted, order, params, state, scalars, grad_mean, active,
                                 sizes, int(activation), int(output), int(optimizer),
                                 np.asarray(hyper, dtype=np.float64), np.asarray(intercept_hyper, dtype=np.float64),
                                 int(step), int(batch_size), float(alpha), bool(decoupled), float(clip_value),
                                 float(clip_norm))
    return float(loss), int(n_steps)
