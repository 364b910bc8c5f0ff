"""The kernel contract: every backend implements exactly these functions.

Each function below is the specification of one kernel: its name, its
parameters (in this order) and, in the docstring, the formula it computes.
The bodies are empty on purpose; ``reference.py`` is the executable oracle.

Conventions shared by every kernel (see the design notes):

* Inputs first, then caller-provided outputs, then keyword-only
  hyper-parameters, then ``n_threads`` (a positive int, already resolved by the
  Python layer).
* One floating dtype per call (float32 or float64), C-contiguous arrays;
  read-only inputs must work.  Outputs have the dtype of the inputs.
* Kernels never validate and never allocate data-sized arrays; scratch of
  O(n_threads x d) is allowed.  Reductions accumulate in float64 and are
  returned as Python floats.
* Means are sample-weighted: ``mean(l) = sum(s_i l_i) / sum(s_i)`` with
  ``s = sample_weight`` (all ones when ``None``).
* For a fixed ``n_threads`` the result is deterministic.
"""

KERNELS = (
    "sigmoid",
    "log1pexp",
    "linear_predict",
    "logistic_loss_grad",
    "squared_loss_grad",
)


def sigmoid(z, out, *, n_threads):
    """Logistic function, elementwise, never overflowing.

    ``out[i] = 1 / (1 + exp(-z_i))`` computed as ``1 / (1 + e)`` for
    ``z_i >= 0`` and ``e / (1 + e)`` for ``z_i < 0``, with ``e = exp(-|z_i|)``.
    ``z`` and ``out`` are 1-D and of equal length (possibly 0).
    """


def log1pexp(z, out, *, n_threads):
    """Softplus, elementwise: ``out[i] = log(1 + exp(z_i))``.

    Computed as ``max(z_i, 0) + log1p(exp(-|z_i|))``: exact to a few ulp for
    every ``z_i``, ``+inf`` only for ``z_i = +inf``.
    """


def linear_predict(X, w, b, out, *, n_threads):
    """Linear predictor: ``out[i] = sum_j X[i, j] w[j] + b``.

    ``X`` is (n, d), ``w`` is (d,), ``b`` a double, ``out`` is (n,).
    """


def logistic_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Mean binary cross-entropy of ``z = X w + b`` and its gradient.

    With labels ``y_i`` in {0, 1}, weights ``s_i`` and ``S = sum_i s_i``, one
    exponential per sample:

    * ``z_i <= 0``: ``e = exp(z_i)``, ``l_i = log1p(e) - y_i z_i``,
      ``dl/dz = ((1 - y_i) e - y_i) / (1 + e)``;
    * ``z_i > 0``: ``e = exp(-z_i)``, ``l_i = log1p(e) + (1 - y_i) z_i``,
      ``dl/dz = ((1 - y_i) - y_i e) / (1 + e)``.

    Writes ``grad_w = sum_i s_i dl/dz_i X[i] / S`` into ``grad_w`` (d,) and
    returns ``(loss, grad_b)`` with ``loss = sum_i s_i l_i / S`` and
    ``grad_b = sum_i s_i dl/dz_i / S``.  ``sample_weight`` is ``None`` or (n,).
    Reads each row of ``X`` once.
    """


def squared_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Mean half squared error of ``z = X w + b`` and its gradient.

    ``l_i = (z_i - y_i)^2 / 2`` and ``dl/dz = z_i - y_i``; otherwise exactly as
    :func:`logistic_loss_grad`: writes ``grad_w`` and returns
    ``(loss, grad_b)``, sample-weighted means.
    """
