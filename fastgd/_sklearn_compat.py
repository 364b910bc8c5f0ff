"""scikit-learn's estimator machinery when it is installed, small stand-ins when not.

The estimators subclass :class:`BaseEstimator` and the mixins from here; with
scikit-learn they are genuine scikit-learn estimators (``clone``, pipelines,
tags, ``check_estimator``), without it they keep the same behaviour and
messages.  This module is imported on first use of an estimator, never by
``import fastgd``.
"""

import inspect
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.utils.validation import check_is_fitted, validate_data

    HAVE_SKLEARN = True
except ImportError:  # scikit-learn is optional
    HAVE_SKLEARN = False

    class ConvergenceWarning(UserWarning):
        """The optimization did not converge within ``max_iter`` epochs."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before ``fit``."""

    class BaseEstimator:
        """``get_params`` / ``set_params`` from the constructor's signature, and a repr."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. Valid parameters are: {valid!r}.")
                setattr(self, name, value)
            return self

        def __repr__(self):
            defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
            changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            """Mean accuracy of ``predict(X)`` against ``y``."""
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    class RegressorMixin:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            """Coefficient of determination R^2 of ``predict(X)``."""
            y = np.asarray(y, dtype=np.float64)
            residual = np.average((y - self.predict(X)) ** 2, weights=sample_weight)
            total = np.average((y - np.average(y, weights=sample_weight)) ** 2, weights=sample_weight)
            return float(1 - residual / total) if total > 0 else 0.0

    def check_is_fitted(estimator, attributes=None):
        if not any(name.endswith("_") and not name.startswith("__") for name in vars(estimator)):
            raise NotFittedError(
                f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def validate_data(estimator, X, y="no_validation", reset=True, dtype=None, ensure_all_finite=True, **_):
        """Dense 2-D float X (finite unless ``ensure_all_finite`` is False) and 1-D y, recording or checking
        ``n_features_in_``."""
        X = _as_2d_float(X, dtype, ensure_all_finite)
        if reset:
            estimator.n_features_in_ = X.shape[1]
        elif X.shape[1] != getattr(estimator, "n_features_in_", X.shape[1]):
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
        if isinstance(y, str) and y == "no_validation":
            return X
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected.", UserWarning, stacklevel=3)
            y = y.ravel()
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with {X.shape[0]} entries, got shape {y.shape}")
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        return X, y


def _same(a, b):
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else False
    except Exception:
        return a is b


def _as_2d_float(X, dtype, ensure_all_finite=True):
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError("Sparse data is not supported: pass a dense array (X.toarray()).")
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead. Reshape your data.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}: at least one sample and one feature are required.")
    target = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = np.asarray(X, dtype=target)
    if ensure_all_finite and not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    return X
