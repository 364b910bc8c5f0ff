"""Seeded generators of large regression and classification problems.

Both draw ``X`` with independent standard normal features (directly in the
requested dtype, no float64 copy), a true coefficient vector ``w`` with
``||w|| = signal``, and targets from the model; the same ``random_state``
gives the same problem on every machine.
"""

import numpy as np

from fastgd._validation import FLOAT_DTYPES

__all__ = ["make_classification", "make_regression"]


def _features_and_coef(n_samples, n_features, dtype, random_state, signal):
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"need n_samples >= 1 and n_features >= 1, got {n_samples} and {n_features}")
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((n_samples, n_features), dtype=dtype)
    w = rng.standard_normal(n_features)
    w *= signal / np.linalg.norm(w)
    return rng, X, w.astype(dtype)


def make_classification(n_samples=1_000_000, n_features=100, *, dtype=np.float64, random_state=0, signal=3.0, intercept=0.5):
    """Logistic-model data: ``P(y = 1 | x) = sigmoid(x . w + intercept)``.

    Returns ``(X, y, w)`` with ``y`` in {0, 1} of X's dtype.
    """
    rng, X, w = _features_and_coef(n_samples, n_features, dtype, random_state, signal)
    z = X @ w + intercept
    probability = np.exp(-np.logaddexp(0.0, -z.astype(np.float64)))
    y = (rng.random(n_samples) < probability).astype(X.dtype)
    return X, y, w


def make_regression(n_samples=1_000_000, n_features=100, *, dtype=np.float64, random_state=0, signal=3.0, intercept=0.5, noise=1.0):
    """Linear-model data: ``y = x . w + intercept + noise * N(0, 1)``.

    Returns ``(X, y, w)`` with ``y`` of X's dtype.
    """
    rng, X, w = _features_and_coef(n_samples, n_features, dtype, random_state, signal)
    y = X @ w + intercept + noise * rng.standard_normal(n_samples, dtype=X.dtype)
    return X, y.astype(X.dtype), w
