"""Seeded generators of large regression and classification problems.

Both draw ``X`` with independent standard normal features (directly in the
requested dtype, no float64 copy), a true coefficient vector ``w`` with
‖w‖ = ``signal``, and targets from the model; the same ``random_state``
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
    """Draw a binary classification problem from a logistic model.

    X has independent standard normal features; the true coefficients w
    point in a random direction with ‖w‖ = ``signal``; each label is 1 with
    probability σ(x_i·w + b) = 1/(1 + exp(−(x_i·w + b))), b = ``intercept``,
    else 0.  X is drawn directly in ``dtype`` (no float64 copy).

    Parameters
    ----------
    n_samples : int, default=1_000_000
        Number of samples (rows of X), at least 1.
    n_features : int, default=100
        Number of features (columns of X), at least 1.
    dtype : data-type, default=numpy.float64
        The floating type of X, y and w: float32 or float64, in any spelling
        NumPy accepts (``numpy.float32``, ``"float32"``, ...).
    random_state : int or None, default=0
        Seed of ``numpy.random.default_rng`` (which also takes a
        ``numpy.random.Generator``); None draws fresh randomness.
    signal : float, default=3.0
        The norm ‖w‖ of the true coefficients: the larger, the more of y the
        features explain.
    intercept : float, default=0.5
        The true intercept b.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, of ``dtype``.
    y : ndarray of shape (n_samples,)
        The labels, 0.0 or 1.0, of ``dtype``.
    w : ndarray of shape (n_features,)
        The true coefficients, of ``dtype``.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    ValueError
        If ``n_samples`` or ``n_features`` is below 1.

    See Also
    --------
    make_regression : Data from a linear model.
    fastgd.LogisticRegression : Fits this model.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.datasets import make_classification
    >>> X, y, w = make_classification(n_samples=1000, n_features=5, dtype=np.float32, random_state=0)
    >>> X.shape, X.dtype, y.shape, w.shape
    ((1000, 5), dtype('float32'), (1000,), (5,))
    >>> np.unique(y)
    array([0., 1.], dtype=float32)
    >>> round(float(np.linalg.norm(w)), 4)
    3.0
    """
    rng, X, w = _features_and_coef(n_samples, n_features, dtype, random_state, signal)
    z = X @ w + intercept
    probability = np.exp(-np.logaddexp(0.0, -z.astype(np.float64)))
    y = (rng.random(n_samples) < probability).astype(X.dtype)
    return X, y, w


def make_regression(n_samples=1_000_000, n_features=100, *, dtype=np.float64, random_state=0, signal=3.0, intercept=0.5, noise=1.0):
    """Draw a regression problem from a linear model with Gaussian noise.

    X has independent standard normal features; the true coefficients w
    point in a random direction with ‖w‖ = ``signal``; each target is
    y_i = x_i·w + b + noise·ε_i with b = ``intercept`` and ε_i drawn from
    N(0, 1).  X is drawn directly in ``dtype`` (no float64 copy).

    Parameters
    ----------
    n_samples : int, default=1_000_000
        Number of samples (rows of X), at least 1.
    n_features : int, default=100
        Number of features (columns of X), at least 1.
    dtype : data-type, default=numpy.float64
        The floating type of X, y and w: float32 or float64, in any spelling
        NumPy accepts (``numpy.float32``, ``"float32"``, ...).
    random_state : int or None, default=0
        Seed of ``numpy.random.default_rng`` (which also takes a
        ``numpy.random.Generator``); None draws fresh randomness.
    signal : float, default=3.0
        The norm ‖w‖ of the true coefficients: the larger, the more of y the
        features explain.
    intercept : float, default=0.5
        The true intercept b.
    noise : float, default=1.0
        The standard deviation of the noise added to each target.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, of ``dtype``.
    y : ndarray of shape (n_samples,)
        The targets, of ``dtype``.
    w : ndarray of shape (n_features,)
        The true coefficients, of ``dtype``.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    ValueError
        If ``n_samples`` or ``n_features`` is below 1.

    See Also
    --------
    make_classification : Labels from a logistic model.
    fastgd.LinearRegression : Fits this model.

    Examples
    --------
    >>> from fastgd.datasets import make_regression
    >>> X, y, w = make_regression(n_samples=1000, n_features=5, noise=0.0, random_state=0)
    >>> X.shape, y.shape, w.shape
    ((1000, 5), (1000,), (5,))
    >>> bool(abs(X @ w + 0.5 - y).max() < 1e-12)
    True
    """
    rng, X, w = _features_and_coef(n_samples, n_features, dtype, random_state, signal)
    y = X @ w + intercept + noise * rng.standard_normal(n_samples, dtype=X.dtype)
    return X, y.astype(X.dtype), w
