"""Pure NumPy kernels: the readable oracle and the always-available fallback.

Every function implements the formula stated in :mod:`fastgd.backends._spec`
with vectorized NumPy, in the same numerical formulation as the compiled
backends.  ``n_threads`` is accepted for interface parity; NumPy's BLAS picks
its own threads.
"""

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
