"""fastgd: fast, trustworthy gradient descent for linear and logistic regression.

Every hot loop exists three times behind one interface: compiled ahead of time
(Cython), just in time (Numba), and as the NumPy reference that is the oracle.

>>> import numpy as np, fastgd
>>> X = np.eye(3); y = np.array([0.0, 1.0, 1.0])
>>> loss, grad_w, grad_b = fastgd.losses.logistic_loss_grad(X, y, np.zeros(3))
>>> round(loss, 6)
0.693147
"""

from fastgd import datasets, losses
from fastgd._version import __version__
from fastgd.backends import available_backends, backend_errors, get_backend, set_backend

__all__ = [
    "__version__",
    "available_backends",
    "backend_errors",
    "datasets",
    "get_backend",
    "losses",
    "set_backend",
]
