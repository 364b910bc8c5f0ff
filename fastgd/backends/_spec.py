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
    "squared_norm",
    "sgd_step",
    "adagrad_step",
    "rmsprop_step",
    "adam_step",
    "minibatch_epoch",
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


# ---- optimizers -------------------------------------------------------------------------
#
# One fused update per optimizer, applied to one parameter array at a time:
# reads p, g and the state once, writes p and the state once.  Every update
# first prepares the gradient, elementwise and in this order:
#
#     g = clamp(g, -clip_value, clip_value)      (clip_value = inf: no clamp; NaN stays NaN)
#     g = grad_scale * g                          (the global-norm clip factor, 1.0 for none)
#     g = g + weight_decay * p                    (L2 penalty; not for decoupled decay)
#
# and returns the squared L2 norm of the raw (unclipped) gradient as a float,
# accumulated in float64, so the norm costs no extra pass.  State buffers have
# p's shape and dtype; an optional buffer is ``None`` when the setting that
# needs it is off.  The update rules are PyTorch's (torch.optim).


def squared_norm(g, *, clip_value, n_threads):
    """Squared L2 norms of a gradient before and after value clipping.

    Returns ``(sum_i g_i^2, sum_i clamp(g_i, -c, c)^2)`` with ``c = clip_value``,
    both accumulated in float64 (NaN or inf if ``g`` holds one).
    """


def sgd_step(p, g, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, first_step, clip_value, grad_scale, n_threads):
    """SGD with momentum and Nesterov, PyTorch's rule, on the prepared gradient g.

    With momentum ``mu > 0``: ``b = g`` on the first step, else
    ``b = mu b + (1 - dampening) g``; then ``d = g + mu b`` (Nesterov) or
    ``d = b``.  Without momentum ``d = g`` and ``momentum_buffer`` is None.
    ``p = p - lr d``.  Returns the raw gradient's squared norm.
    """


def adagrad_step(p, g, state_sum, *, lr, lr_decay, weight_decay, eps, step, clip_value, grad_scale, n_threads):
    """Adagrad, PyTorch's rule, on the prepared gradient g at step t = ``step`` (from 1).

    ``clr = lr / (1 + (t - 1) lr_decay)``, ``s = s + g^2``,
    ``p = p - clr g / (sqrt(s) + eps)``.  Returns the raw gradient's squared norm.
    """


def rmsprop_step(p, g, square_avg, momentum_buffer, grad_avg, *, lr, alpha, eps, weight_decay, momentum, centered, clip_value, grad_scale, n_threads):
    """RMSprop, PyTorch's rule, on the prepared gradient g.

    ``v = alpha v + (1 - alpha) g^2``; centered: ``m = m + (1 - alpha)(g - m)``
    and ``a = sqrt(max(v - m^2, 0)) + eps`` (clamped at 0 where PyTorch would
    give NaN), else ``a = sqrt(v) + eps``.  With momentum ``mu > 0``:
    ``b = mu b + g / a`` and ``p = p - lr b``; else ``p = p - lr g / a``.
    ``momentum_buffer`` is None without momentum, ``grad_avg`` None unless
    centered.  Returns the raw gradient's squared norm.
    """


def adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad, step, clip_value, grad_scale, n_threads):
    """Adam / AdamW, PyTorch's rule, on the prepared gradient g at step t = ``step`` (from 1).

    AdamW (``decoupled_weight_decay``): ``p = p (1 - lr weight_decay)`` first
    and no L2 term in g.  Then ``m = m + (1 - beta1)(g - m)``,
    ``v = beta2 v + (1 - beta2) g^2``; with amsgrad ``vmax = max(vmax, v)`` and
    ``v`` replaced by ``vmax`` below (``max_exp_avg_sq`` is None otherwise);
    ``denom = sqrt(v) / sqrt(1 - beta2^t) + eps``,
    ``p = p - (lr / (1 - beta1^t)) m / denom``.  Returns the raw gradient's
    squared norm.
    """


# ---- training ---------------------------------------------------------------------------
#
# Codes shared by every backend: losses and optimizers inside a compiled epoch.
LOSS_CODES = {"log_loss": 0, "squared_error": 1}
OPTIMIZER_CODES = {"sgd": 0, "adagrad": 1, "rmsprop": 2, "adam": 3}
# The layout of ``hyper`` (float64) per optimizer code; unused slots are 0.
HYPER_LAYOUT = {
    0: ("lr", "momentum", "dampening", "nesterov"),
    1: ("lr", "lr_decay", "eps"),
    2: ("lr", "alpha", "eps", "momentum", "centered"),
    3: ("lr", "beta1", "beta2", "eps", "amsgrad"),
}


def minibatch_epoch(X, y, sample_weight, order, params, state, grad_mean, *, loss, optimizer, hyper, step, batch_size, alpha, fit_intercept, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch training, every step inside the kernel.

    ``params`` is ``[w_1 .. w_d, b]`` (d + 1,) in X's dtype, updated in place;
    ``state`` is (3, d + 1) in X's dtype: the optimizer's buffers in the order
    of its ``*_step`` kernel (SGD: momentum_buffer; Adagrad: sum; RMSprop:
    square_avg, momentum_buffer, grad_avg; Adam: exp_avg, exp_avg_sq,
    max_exp_avg_sq), rows it does not use are left alone.  ``order`` (n,)
    int64 is the permutation of the rows; batch k holds the rows
    ``order[k B : (k + 1) B]`` with ``B = batch_size`` (the last one shorter),
    gathered into a small buffer.  For each batch, with its weights ``s``:

    * ``(l, g_w, g_b) = loss_grad(X_batch, y_batch, w, b, s)`` (code ``loss``,
      see LOSS_CODES), the batch's own weighted mean;
    * the objective adds ``alpha/2 ||w||^2``: ``l += alpha/2 ||w||^2``,
      ``g_w += alpha w``; ``g_b = 0`` unless ``fit_intercept``;
    * clip by value, then by the norm of the whole (d + 1) vector
      (``min(1, clip_norm / (||g|| + 1e-6))``, ``clip_norm = inf`` for none),
      then the update of optimizer ``optimizer`` (OPTIMIZER_CODES, hyper-parameters
      in ``hyper`` laid out as HYPER_LAYOUT, no weight decay) at step
      ``step + k + 1``, exactly as its ``*_step`` kernel.

    A batch whose weights sum to 0 is skipped.  Writes into ``grad_mean``
    (d + 1,) float64 the mean of the batch gradients (before clipping) and
    returns ``(loss, n_steps)``: the batches' objectives averaged with their
    weight sums, and the number of optimizer steps taken.
    """
