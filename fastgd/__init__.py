"""fastgd: fast, trustworthy gradient descent for linear and logistic regression.

Every hot loop exists three times behind one interface: compiled ahead of time
(Cython), just in time (Numba), and as the NumPy reference that is the oracle.

What is where:

* LogisticRegression, LinearRegression, MLPClassifier, MLPRegressor --
  scikit-learn estimators trained by gradient descent (loaded on first use);
* fastgd.losses -- stable losses and their gradients (sigmoid, log1pexp, ...);
* fastgd.optim -- optimizers with PyTorch's rules and defaults (SGD, Adam, ...);
* fastgd.schedules -- learning-rate schedules and adaptive rules;
* fastgd.datasets -- synthetic data sets;
* available_backends, get_backend, set_backend, backend_errors -- which
  kernels run (FASTGD_BACKEND chooses too);
* plot_history -- a fit's history as charts (needs matplotlib).

>>> import numpy as np, fastgd
>>> X = np.eye(3); y = np.array([0.0, 1.0, 1.0])
>>> loss, grad_w, grad_b = fastgd.losses.logistic_loss_grad(X, y, np.zeros(3))
>>> round(loss, 6)
0.693147
"""

from fastgd import datasets, losses, optim, schedules
from fastgd._version import __version__
from fastgd.backends import available_backends, backend_errors, get_backend, set_backend

# LogisticRegression before LinearRegression: the methods they share are listed (and
# documented) under the classifier, the more used of the two.
__all__ = [
    "ConvergenceWarning",
    "LogisticRegression",
    "LinearRegression",
    "MLPClassifier",
    "MLPRegressor",
    "plot_history",
    "schedules",
    "__version__",
    "available_backends",
    "backend_errors",
    "datasets",
    "get_backend",
    "losses",
    "optim",
    "set_backend",
]

# Loaded on first use (PEP 562), so that ``import fastgd`` does not import
# scikit-learn, SciPy or matplotlib.
_LAZY = {
    "LinearRegression": "fastgd.linear_model",
    "LogisticRegression": "fastgd.linear_model",
    "MLPClassifier": "fastgd.neural_network",
    "MLPRegressor": "fastgd.neural_network",
    "ConvergenceWarning": "fastgd._sklearn_compat",
    "plot_history": "fastgd.plotting",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastgd' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
