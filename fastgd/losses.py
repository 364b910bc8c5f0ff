"""Public loss functions: validate, allocate, dispatch to a backend.

Every function takes ``backend=None`` (the current default backend, see
:func:`fastgd.get_backend`) and ``n_threads=None`` (every usable core).
float32 inputs are computed in float32 and float64 in float64; integers and
booleans are converted to float64.

* :func:`sigmoid` -- ``1 / (1 + exp(-z))``, stable for every ``z``.
* :func:`log1pexp` -- softplus ``log(1 + exp(z))``, stable for every ``z``.
* :func:`linear_predict` -- ``X w + b``.
* :func:`logistic_loss_grad` -- mean binary cross-entropy and its gradient.
* :func:`squared_loss_grad` -- mean half squared error and its gradient.

:data:`LOSSES` maps loss names (scikit-learn's: ``"log_loss"``,
``"squared_error"``) to the loss+gradient functions.
"""

import numpy as np

from fastgd import _validation as v
from fastgd.backends import raw_kernels

__all__ = [
    "sigmoid",
    "log1pexp",
    "linear_predict",
    "logistic_loss_grad",
    "squared_loss_grad",
    "LOSSES",
    "get_loss",
]


def _elementwise(kernel_name, z, out, backend, n_threads):
    """Apply an elementwise kernel to an array of any shape.

    NaN propagates (as in NumPy); ``+-inf`` give the mathematical limits.
    """
    kernel = getattr(raw_kernels(backend), kernel_name)
    z = np.asarray(z)
    flat = v.as_float_array(z.reshape(-1), "z", ndim=1)
    if out is None:
        out = np.empty(z.shape, dtype=flat.dtype)
    elif not isinstance(out, np.ndarray) or out.shape != z.shape or out.dtype != flat.dtype:
        raise ValueError(f"out must be an array of shape {z.shape} and dtype {flat.dtype}")
    elif not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    if np.may_share_memory(out, flat) and out.ctypes.data != flat.ctypes.data:
        flat = flat.copy()  # out overlaps z in part: read z before any of it is overwritten, as NumPy does
    kernel(flat, out.reshape(-1), n_threads=v.check_n_threads(n_threads))
    return out


def sigmoid(z, *, out=None, backend=None, n_threads=None):
    """Logistic function ``1 / (1 + exp(-z))``, elementwise, never overflowing.

    Computed as ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for
    ``z < 0`` with ``e = exp(-|z|)``.  Returns an array shaped like ``z``.
    """
    return _elementwise("sigmoid", z, out, backend, n_threads)


def log1pexp(z, *, out=None, backend=None, n_threads=None):
    """Softplus ``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``, elementwise."""
    return _elementwise("log1pexp", z, out, backend, n_threads)


def _check_linear_inputs(X, w, b):
    X = v.check_X(X)
    w = v.check_vector(w, "w", length=X.shape[1], dtype=X.dtype)
    return X, w, v.check_scalar(b, "b")


def linear_predict(X, w, b=0.0, *, backend=None, n_threads=None):
    """The linear predictor ``z = X w + b`` in the dtype of ``X``."""
    kernel = raw_kernels(backend).linear_predict
    X, w, b = _check_linear_inputs(X, w, b)
    out = np.empty(X.shape[0], dtype=X.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is named below
        kernel(X, w, b, out, n_threads=v.check_n_threads(n_threads))
    if not np.isfinite(out).all():
        v.raise_nonfinite_result("X w + b", {"X": X})
    return out


def _loss_grad(kernel_name, X, y, w, b, sample_weight, backend, n_threads, check_labels):
    """Validate, run the fused kernel, and return ``(loss, grad_w, grad_b)``."""
    kernel = getattr(raw_kernels(backend), kernel_name)
    X, w, b = _check_linear_inputs(X, w, b)
    y = v.check_vector(y, "y", length=X.shape[0], dtype=X.dtype)
    if check_labels:
        v.check_binary_labels(y)
    sample_weight = v.check_sample_weight(sample_weight, length=X.shape[0], dtype=X.dtype)
    grad_w = np.empty(X.shape[1], dtype=X.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is named below
        loss, grad_b = kernel(X, y, w, b, sample_weight, grad_w, n_threads=v.check_n_threads(n_threads))
    if not (np.isfinite(loss) and np.isfinite(grad_b) and np.isfinite(grad_w).all()):
        v.raise_nonfinite_result("the loss or its gradient", {"X": X})
    return loss, grad_w, grad_b


def logistic_loss_grad(X, y, w, b=0.0, sample_weight=None, *, backend=None, n_threads=None):
    """Mean binary cross-entropy of ``z = X w + b`` and its gradient, in one pass.

    ``loss = sum_i s_i l_i / sum_i s_i`` with ``l_i = log(1 + exp(z_i)) - y_i z_i``
    (computed without cancellation, one ``exp`` per sample), labels ``y`` in
    {0, 1} and sample weights ``s`` (ones when ``None``).  Returns
    ``(loss, grad_w, grad_b)``: a float, an array of X's dtype, a float.
    """
    return _loss_grad("logistic_loss_grad", X, y, w, b, sample_weight, backend, n_threads, True)


def squared_loss_grad(X, y, w, b=0.0, sample_weight=None, *, backend=None, n_threads=None):
    """Mean half squared error ``sum_i s_i (z_i - y_i)^2 / 2 / sum_i s_i`` and its gradient.

    Same arguments and results as :func:`logistic_loss_grad`, for real ``y``.
    """
    return _loss_grad("squared_loss_grad", X, y, w, b, sample_weight, backend, n_threads, False)


LOSSES = {"log_loss": logistic_loss_grad, "squared_error": squared_loss_grad}


def get_loss(name):
    """The loss+gradient function registered under ``name``."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}") from None
