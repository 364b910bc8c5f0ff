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
    "softmax_loss_grad",
    "squared_norm",
    "optimizer_update",
    "minibatch_epoch",
    "network_epoch",
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


def softmax_loss_grad(X, y, W, b, sample_weight, grad_W, grad_b, *, n_threads):
    """Mean softmax cross-entropy of ``Z = X W + b`` over k >= 2 classes, and its gradient.

    ``y`` (n,) holds class indices ``0 .. k-1`` in X's dtype; ``W`` is (d, k),
    ``b`` (k,); ``grad_W`` (d, k) and ``grad_b`` (k,) are written.  With
    ``m_i = max_c Z_ic`` and ``lse_i = m_i + log(sum_c exp(Z_ic - m_i))`` (the
    stable log-sum-exp, in float64):

    * ``l_i = lse_i - Z_{i, y_i}``;
    * ``dl/dZ_ic = exp(Z_ic - lse_i) - [c == y_i]`` (the softmax minus the one-hot label).

    Writes ``grad_W = sum_i s_i x_i^T dl/dZ_i / S`` and ``grad_b = sum_i s_i dl/dZ_i / S``
    and returns ``loss = sum_i s_i l_i / S`` (``S = sum_i s_i``).  Reads each
    row of ``X`` once.
    """


# ---- optimizers -------------------------------------------------------------------------
#
# One update entry point serves ``Optimizer.step`` and the compiled epochs.  An
# optimizer is declared once, in :mod:`fastgd.optim`: its ``code``, its kernel
# hyper-parameters (packed into ``hyper``, float64, in declaration order,
# booleans as 0/1), its buffers (the rows of ``state``, in declaration order)
# and its scalar state (``scalars``, e.g. NAdam's running momentum product).  Every update first prepares the gradient,
# elementwise and in this order:
#
#     g = clamp(g, -clip_value, clip_value)      (clip_value = inf: no clamp; NaN stays NaN)
#     g = grad_scale * g                          (the global-norm clip factor, 1.0 for none)
#     g = g + weight_decay * p                    (L2 penalty; not for decoupled decay)
#
# and returns the squared L2 norm of the raw (unclipped) gradient as a float,
# accumulated in float64, so the norm costs no extra pass.  The update rules
# are PyTorch's (torch.optim).

def squared_norm(g, *, clip_value, n_threads):
    """Squared L2 norms of a gradient before and after value clipping.

    Returns ``(sum_i g_i^2, sum_i clamp(g_i, -c, c)^2)`` with ``c = clip_value``,
    both accumulated in float64 (NaN or inf if ``g`` holds one).
    """


def optimizer_update(p, g, state, scalars, *, code, hyper, step, clip_value, grad_scale, n_threads):
    """One step t = ``step`` (from 1) of optimizer ``code`` on one parameter array, in place.

    ``p`` and ``g`` are (n,); ``state`` is (k, n) in p's dtype, one row per
    declared buffer (a row whose setting is off is neither read nor written);
    ``scalars`` (float64, possibly empty) holds the declared scalar state
    before the step on entry and after it on return, so every parameter
    array of one step starts from the same values; ``hyper`` holds the
    declared kernel hyper-parameters.  The rule of each code is the formula
    in the docstring of its class in :mod:`fastgd.optim`, applied to the
    prepared gradient.

    Returns the raw gradient's squared norm.
    """


# ---- training ---------------------------------------------------------------------------
#
# Losses inside a compiled epoch.
LOSS_CODES = {"log_loss": 0, "squared_error": 1}


def minibatch_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, *, loss, optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, fit_intercept, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch training, every step inside the kernel.

    ``params`` is ``[w_1 .. w_d, b]`` (d + 1,) in X's dtype, updated in place;
    ``state`` (k, d + 1) and ``scalars`` are optimizer ``optimizer``'s, as in
    :func:`optimizer_update`, updated in place.  ``order`` (n,) int64 is the
    permutation of the rows; batch k holds the rows ``order[k B : (k + 1) B]``
    with ``B = batch_size`` (the last one shorter), gathered into a small
    buffer.  For each batch, with its weights ``s``:

    * ``(l, g_w, g_b) = loss_grad(X_batch, y_batch, w, b, s)`` (code ``loss``,
      see LOSS_CODES), the batch's own weighted mean;
    * the objective adds ``alpha/2 ||w||^2``: ``l += alpha/2 ||w||^2``; the
      recorded gradient is ``(g_w + alpha w, g_b)``, with ``g_b = 0`` unless
      ``fit_intercept``;
    * the stepped gradient is the recorded one, or with ``decoupled`` (the
      penalty is the optimizer's decoupled weight decay, AdamW) ``(g_w, g_b)``;
    * clip it by value, then by the norm of the whole (d + 1) vector
      (``min(1, clip_norm / (||g|| + 1e-6))``, ``clip_norm = inf`` for none);
    * step ``t = step + k + 1`` of ``optimizer_update`` on the weights
      ``[0, d)`` with ``hyper`` and on the intercept ``[d]`` with
      ``intercept_hyper`` (the same but for a zero weight decay: the intercept
      is never penalized), both from the scalar state before the step.

    A batch whose weights sum to 0 is skipped.  Writes into ``grad_mean``
    (d + 1,) float64 the mean of the recorded batch gradients and
    returns ``(loss, n_steps)``: the batches' objectives averaged with their
    weight sums, and the number of optimizer steps taken.
    """


# Networks: the hidden activations and the outputs of ``fastgd.network``, by code.
ACTIVATION_CODES = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3}
OUTPUT_CODES = {"logistic": 0, "softmax": 1, "identity": 2}


def network_epoch(X, y, sample_weight, order, params, state, scalars, grad_mean, active, *, sizes, activation, output, optimizer, hyper, intercept_hyper, step, batch_size, alpha, decoupled, clip_value, clip_norm, n_threads):
    """One epoch of mini-batch training of a fully connected network, every step inside the kernel.

    ``sizes`` (int64, L + 2) are the layer widths ``(d, h_1, .., h_L, k)``;
    ``params`` is the flat ``[W_1 .. W_{L+1}, b_1 .. b_{L+1}]`` of
    :class:`fastgd.network.Network` (each ``W_l`` row-major, fan-in x fan-out),
    in X's dtype, updated in place; ``activation`` and ``output`` are codes of
    ACTIVATION_CODES and OUTPUT_CODES; ``y`` is (n, 1) (0/1 labels or class
    indices) or (n, k) (regression targets).  Per batch (rows as in
    :func:`minibatch_epoch`): the forward pass, the batch's weighted mean loss
    and its gradient by backpropagation (the formulas of ``fastgd.network``),
    ``l += alpha/2 ||W||^2`` over all weight matrices, the recorded gradient
    adds ``alpha W`` (the stepped one too unless ``decoupled``), clipping by
    value then by norm over all parameters, then step ``t = step + k + 1`` of
    ``optimizer_update`` on the weights with ``hyper`` and on the biases with
    ``intercept_hyper``, both from the scalar state before the step.
    ``active`` (uint8, sum of hidden widths) is OR-ed with 1 for every hidden
    unit whose output is non-zero on some row.  Writes the mean recorded
    gradient into ``grad_mean`` (float64) and returns ``(loss, n_steps)``.
    """
