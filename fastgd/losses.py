"""Public loss functions: validate, allocate, dispatch to a backend.

Every function takes ``backend=None`` (the current default backend, see
fastgd.get_backend) and ``n_threads=None`` (every usable core).  float32
inputs are computed in float32 and float64 in float64; integers and booleans
are converted to float64.  Sums are accumulated in float64.

* sigmoid -- σ(z) = 1/(1 + exp(−z)), stable for every z.
* log1pexp -- softplus log(1 + exp(z)), stable for every z.
* linear_predict -- z = X·w + b.
* logistic_loss_grad -- mean binary cross-entropy and its gradient.
* squared_loss_grad -- mean half squared error and its gradient.
* get_loss -- the loss+gradient function of a name.

LOSSES maps loss names (scikit-learn's: "log_loss", "squared_error") to the
loss+gradient functions.

>>> import numpy as np
>>> from fastgd.losses import sigmoid
>>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
array([0. , 0.5, 1. ])
"""


import numpy as np

from fastgd import _validation as v
from fastgd._docstrings import fill_doc
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


# The descriptions every function shares, written once: _with_shared_docs puts
# them in place of their placeholder line.
_SHARED_DOCS = {
    "backend_options": """\
backend : {"cython", "numba", "numpy"} or None, default None
    The kernels that compute it; None: the current default backend (see
    fastgd.get_backend).  They agree to rounding.
n_threads : int or None, default None
    Threads for large inputs; None: every core the process may use.  Results
    are deterministic for a given n_threads.""",
}


def _with_shared_docs(function):
    """``function``, its docstring with the shared descriptions in place of their placeholder lines."""
    return fill_doc(function, _SHARED_DOCS)


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


@_with_shared_docs
def sigmoid(z, *, out=None, backend=None, n_threads=None):
    """Logistic function σ(z) = 1/(1 + exp(−z)), elementwise, never overflowing.

    Computed as 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, with
    e = exp(−|z|): no overflow and no warning for any z.  NaN propagates
    (as in NumPy) and ±inf give 0 and 1.

    Parameters
    ----------
    z : array_like
        Real values of any shape.
    out : numpy.ndarray or None, default None
        The array to write into: shaped like ``z``, of its float dtype,
        C-contiguous and writeable (``z`` itself works).  None: a new array.
    {backend_options}

    Returns
    -------
    numpy.ndarray
        σ(z), shaped like ``z`` (``out`` when given).

    Raises
    ------
    TypeError
        If ``z`` is not of a real dtype.
    ValueError
        If ``out`` does not match ``z`` or is not C-contiguous and writeable.

    See Also
    --------
    scipy.special.expit : The same function in SciPy.
    log1pexp : Its integral, the softplus.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.losses import sigmoid
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    >>> z = np.array([0.0, 2.0], dtype=np.float32)
    >>> sigmoid(z, out=z).round(4)  # in place, in float32
    array([0.5   , 0.8808], dtype=float32)
    >>> z.round(4)
    array([0.5   , 0.8808], dtype=float32)
    """
    return _elementwise("sigmoid", z, out, backend, n_threads)


@_with_shared_docs
def log1pexp(z, *, out=None, backend=None, n_threads=None):
    """The softplus log(1 + exp(z)), elementwise, accurate for every z.

    Computed as max(z, 0) + log1p(exp(−|z|)): never overflows, and keeps its
    relative accuracy in both tails (≈ exp(z) for very negative z, ≈ z for
    large z).  NaN propagates; −inf gives 0 and +inf gives +inf.

    Parameters
    ----------
    z : array_like
        Real values of any shape.
    out : numpy.ndarray or None, default None
        The array to write into: shaped like ``z``, of its float dtype,
        C-contiguous and writeable (``z`` itself works).  None: a new array.
    {backend_options}

    Returns
    -------
    numpy.ndarray
        log(1 + exp(z)), shaped like ``z`` (``out`` when given).

    Raises
    ------
    TypeError
        If ``z`` is not of a real dtype.
    ValueError
        If ``out`` does not match ``z`` or is not C-contiguous and writeable.

    See Also
    --------
    numpy.logaddexp : ``numpy.logaddexp(0, z)`` is the same function.
    torch.nn.functional.softplus : PyTorch's softplus.
    sigmoid : Its derivative.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.losses import log1pexp
    >>> log1pexp(np.array([-1000.0, 0.0, 1000.0]))
    array([0.00000000e+00, 6.93147181e-01, 1.00000000e+03])
    >>> float(log1pexp(np.array([-40.0]))[0])  # exp(-40), not 0
    4.2483542552...e-18
    """
    return _elementwise("log1pexp", z, out, backend, n_threads)


def _check_linear_inputs(X, w, b):
    X = v.check_X(X)
    w = v.check_vector(w, "w", length=X.shape[1], dtype=X.dtype)
    return X, w, v.check_scalar(b, "b")


@_with_shared_docs
def linear_predict(X, w, b=0.0, *, backend=None, n_threads=None):
    """The linear predictor z = X·w + b, in the dtype of X.

    Each zᵢ = Σⱼ Xᵢⱼ·wⱼ + b is accumulated in float64 and stored in X's
    dtype; X is never upcast or copied when it is float32 or float64 and
    C-contiguous.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        The samples, at least one.
    w : array_like of shape (n_features,)
        The weights (cast to X's dtype).
    b : float, default 0.0
        The intercept.
    {backend_options}

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
        z, of X's dtype.

    Raises
    ------
    TypeError
        If an input is not of a real dtype.
    ValueError
        If the shapes do not match, X has no sample, or z is not finite
        (the message names the entries of X that are not).

    See Also
    --------
    logistic_loss_grad, squared_loss_grad : Losses of z, with their gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.losses import linear_predict
    >>> linear_predict(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0]), b=0.5)
    array([-0.5, -0.5])
    """
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


@_with_shared_docs
def logistic_loss_grad(X, y, w, b=0.0, sample_weight=None, *, backend=None, n_threads=None):
    """Mean binary cross-entropy of z = X·w + b and its gradient, in one pass over X.

    With labels yᵢ in {0, 1} and sample weights sᵢ::

        lᵢ = log(1 + exp(zᵢ)) − yᵢ·zᵢ
        loss   = Σᵢ sᵢ·lᵢ / Σᵢ sᵢ
        grad_w = Σᵢ sᵢ·(σ(zᵢ) − yᵢ)·xᵢ / Σᵢ sᵢ
        grad_b = Σᵢ sᵢ·(σ(zᵢ) − yᵢ) / Σᵢ sᵢ

    lᵢ and its derivative come from one exp per sample, without
    cancellation for any zᵢ (no NaN in the tails).  The sums are
    accumulated in float64.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        The samples, at least one.
    y : array_like of shape (n_samples,)
        The labels, 0 or 1.
    w : array_like of shape (n_features,)
        The weights (cast to X's dtype).
    b : float, default 0.0
        The intercept.
    sample_weight : array_like of shape (n_samples,) or None, default None
        Non-negative weights sᵢ with a positive sum; None: all ones.
    {backend_options}

    Returns
    -------
    loss : float
        The weighted mean loss.
    grad_w : numpy.ndarray of shape (n_features,)
        Its gradient with respect to w, of X's dtype.
    grad_b : float
        Its derivative with respect to b.

    Raises
    ------
    TypeError
        If an input is not of a real dtype.
    ValueError
        If the shapes do not match, X has no sample, a label is not 0 or 1,
        the sample weights are negative or sum to 0, or the result is not
        finite (the message names the entries of X that are not).

    See Also
    --------
    squared_loss_grad : The same for the squared error.
    torch.nn.functional.binary_cross_entropy_with_logits : PyTorch's loss of z.
    sklearn.metrics.log_loss : The same mean loss, from probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.losses import logistic_loss_grad
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, grad_w, grad_b = logistic_loss_grad(X, np.array([0.0, 1.0]), np.zeros(2))
    >>> round(loss, 6), grad_w, grad_b
    (0.693147, array([ 0.25, -0.25]), 0.0)
    """
    return _loss_grad("logistic_loss_grad", X, y, w, b, sample_weight, backend, n_threads, True)


@_with_shared_docs
def squared_loss_grad(X, y, w, b=0.0, sample_weight=None, *, backend=None, n_threads=None):
    """Mean half squared error of z = X·w + b and its gradient, in one pass over X.

    With targets yᵢ and sample weights sᵢ::

        loss   = Σᵢ sᵢ·(zᵢ − yᵢ)²/2 / Σᵢ sᵢ
        grad_w = Σᵢ sᵢ·(zᵢ − yᵢ)·xᵢ / Σᵢ sᵢ
        grad_b = Σᵢ sᵢ·(zᵢ − yᵢ) / Σᵢ sᵢ

    The sums are accumulated in float64.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        The samples, at least one.
    y : array_like of shape (n_samples,)
        The real targets.
    w : array_like of shape (n_features,)
        The weights (cast to X's dtype).
    b : float, default 0.0
        The intercept.
    sample_weight : array_like of shape (n_samples,) or None, default None
        Non-negative weights sᵢ with a positive sum; None: all ones.
    {backend_options}

    Returns
    -------
    loss : float
        The weighted mean loss.
    grad_w : numpy.ndarray of shape (n_features,)
        Its gradient with respect to w, of X's dtype.
    grad_b : float
        Its derivative with respect to b.

    Raises
    ------
    TypeError
        If an input is not of a real dtype.
    ValueError
        If the shapes do not match, X has no sample, the sample weights are
        negative or sum to 0, or the result is not finite (the message names
        the entries of X that are not).

    See Also
    --------
    logistic_loss_grad : The same for the binary cross-entropy.
    torch.nn.MSELoss : PyTorch's mean squared error (without the 1/2).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.losses import squared_loss_grad
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, grad_w, grad_b = squared_loss_grad(X, np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    >>> loss, grad_w, grad_b
    (1.0, array([ 0., -1.]), -1.0)
    """
    return _loss_grad("squared_loss_grad", X, y, w, b, sample_weight, backend, n_threads, False)


#: The loss+gradient functions by name (scikit-learn's names of the losses).
LOSSES = {"log_loss": logistic_loss_grad, "squared_error": squared_loss_grad}


def get_loss(name):
    """Look up the loss+gradient function of a loss name.

    Parameters
    ----------
    name : {"log_loss", "squared_error"}
        The loss, by scikit-learn's name.

    Returns
    -------
    callable
        ``logistic_loss_grad`` or ``squared_loss_grad``, taking
        ``(X, y, w, b=0.0, sample_weight=None)`` and returning
        ``(loss, grad_w, grad_b)``.

    Raises
    ------
    ValueError
        If ``name`` is not a key of LOSSES.

    See Also
    --------
    logistic_loss_grad, squared_loss_grad : The functions returned.

    Examples
    --------
    >>> from fastgd.losses import get_loss, logistic_loss_grad
    >>> get_loss("log_loss") is logistic_loss_grad
    True
    """
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}") from None
