"""Shared docstring paragraphs, written once, and the function that puts them in place.

A docstring names a paragraph by a line holding only its placeholder, ``{name}``;
:func:`fill_doc` replaces that line by the paragraph of that name (the
estimators' ``PARAGRAPHS`` here, or a module's own, such as the optimizers'
common options), indented as the placeholder.  In a paragraph, ``{default}`` stands for the default value of the
parameter it describes (the first word of its first line), read from the
signature of the decorated class's constructor (or of the decorated function),
so that a default is stated where it is defined.  Braces anywhere else in a
docstring are left alone.
"""

import inspect
import re

_PLACEHOLDER_LINE = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>\w+)\}[ \t]*$", re.MULTILINE)

PARAGRAPHS = {
    # ---- constructor parameters --------------------------------------------------------------------------------
    "alpha": """\
alpha : float, default={default}
    Strength of the L2 penalty, at least 0.  The objective is the weighted mean
    loss plus α/2·‖W‖², where ‖W‖² sums the squares of every weight; the
    intercepts (biases) are not penalized.  With an optimizer that decouples
    weight decay (``"adamw"``), ``alpha`` is its decay instead:
    w ← w·(1 − lr·α) at each step, the intercepts untouched (the loss recorded
    in ``history_`` is still the objective above, whose minimum is close to
    but not exactly AdamW's fixed point).""",
    "fit_intercept": """\
fit_intercept : bool, default={default}
    Whether to fit the intercept ``b`` (never penalized).  If False, ``b = 0``:
    the data is expected to be centered.""",
    "optimizer": """\
optimizer : str or fastgd.optim.Optimizer, default={default}
    How the objective is minimized.

    * ``"auto"``: ``"lbfgs"`` for a full-batch ``fit`` without a ``schedule``
      or ``early_stopping``; Adam for mini-batch training (``batch_size``
      set), with a ``schedule`` or ``early_stopping``, and in ``partial_fit``.
    * ``"lbfgs"``: SciPy's L-BFGS-B on the full batch, for precision; it has
      no learning rate, so a ``schedule``, ``early_stopping``, a
      ``batch_size`` or a ``partial_fit`` with it is a ``ValueError``.
    * A first-order optimizer of :mod:`fastgd.optim` by name, with its
      default hyper-parameters (PyTorch's): ``"sgd"``, ``"adagrad"``,
      ``"rmsprop"``, ``"adam"``, ``"adamw"``, ``"nadam"`` or ``"adamax"``.
    * An optimizer object, such as ``fastgd.optim.SGD(momentum=0.9)``, for
      other hyper-parameters.  It is copied, never changed.  Its
      ``weight_decay`` must be 0 (the penalty is ``alpha``; an AdamW object
      then decays by ``alpha``), else ``fit`` raises ``ValueError``.""",
    "network_optimizer": """\
optimizer : str or fastgd.optim.Optimizer, default={default}
    How the objective is minimized (scikit-learn's ``solver``).

    * A first-order optimizer of :mod:`fastgd.optim` by name, with its
      default hyper-parameters (PyTorch's): ``"adam"``, ``"sgd"``,
      ``"adagrad"``, ``"rmsprop"``, ``"adamw"``, ``"nadam"`` or
      ``"adamax"``; ``"auto"`` is ``"adam"`` too.
    * ``"lbfgs"``: SciPy's L-BFGS-B on the full batch (``batch_size="auto"``
      then means the full batch); it has no learning rate, so a
      ``schedule``, ``early_stopping``, an int ``batch_size`` or a
      ``partial_fit`` with it is a ``ValueError``.
    * An optimizer object, such as ``fastgd.optim.SGD(momentum=0.9)``, for
      other hyper-parameters.  It is copied, never changed.  Its
      ``weight_decay`` must be 0 (the penalty is ``alpha``; an AdamW object
      then decays by ``alpha``), else ``fit`` raises ``ValueError``.""",
    "hidden_layer_sizes": """\
hidden_layer_sizes : int or tuple of int, default={default}
    The number of units of each hidden layer, from the input to the output;
    an int is one hidden layer, ``()`` none (a linear model).""",
    "activation": """\
activation : {"identity", "logistic", "tanh", "relu"}, default={default}
    The activation of the hidden units: identity a, logistic
    1/(1 + exp(−a)), tanh(a) or relu max(a, 0).""",
    "lr": """\
lr : float or None, default={default}
    Learning rate of a first-order optimizer, greater than 0.  None: the
    optimizer's own (0.001 for ``"sgd"``, ``"adam"`` and ``"adamw"``, 0.01
    for ``"adagrad"`` and ``"rmsprop"``, 0.002 for ``"nadam"`` and
    ``"adamax"``; an optimizer object's ``lr``).  With a ``schedule``, the
    schedule's rates replace it in ``fit``.  Not used by L-BFGS.""",
    "batch_size": """\
batch_size : int or None, default={default}
    None: full-batch training, one step per epoch along the gradient of the
    whole objective.  An int of at least 1: mini-batch training; each epoch
    cuts a fresh random permutation of the rows into batches of
    ``batch_size`` rows (at most ``n_samples``), takes one optimizer step per
    batch, each batch's loss a mean normalized by its own sum of weights, and
    runs in compiled code.""",
    "network_batch_size": """\
batch_size : int, "auto" or None, default={default}
    ``"auto"``: ``min(200, n_samples)``, as scikit-learn's (the full batch
    for ``optimizer="lbfgs"``).  An int of at least 1: mini-batch training;
    each epoch cuts a fresh random permutation of the rows into batches of
    ``batch_size`` rows (at most ``n_samples``), takes one optimizer step per
    batch, and runs in compiled code (forward, backward, penalty, clipping
    and update of every layer).  None: full-batch training, one step per
    epoch, by backpropagation in NumPy.""",
    "schedule": """\
schedule : float, callable, fastgd.schedules.AdaptiveRule or None, default={default}
    The learning rate of each epoch of ``fit`` (first-order optimizers only;
    ``partial_fit`` keeps the optimizer's current rate).

    * None: ``lr`` for full-batch training; for mini-batch training,
      ``ReduceLROnPlateau`` from ``lr``: the rate divided by 5 after
      ``max(n_iter_no_change − 2, 0)`` epochs without a relative improvement
      of ``tol``, down to ``lr/1000``.
    * A float greater than 0: that constant rate.
    * A callable ``epoch -> lr`` (epochs counted from 0), such as
      ``fastgd.schedules.StepDecay``, ``ExponentialDecay``, ``CosineDecay``,
      ``InverseScaling`` or ``Warmup``.
    * An adaptive rule, which sees each epoch's loss:
      ``fastgd.schedules.ReduceLROnPlateau``, ``BoldDriver``, or
      ``ArmijoLineSearch`` (a backtracking line search; full batch only,
      ``ValueError`` with a ``batch_size``).

    The object is copied, never changed.""",
    "max_iter": """\
max_iter : int, default={default}
    The most epochs (passes over the data; for L-BFGS, iterations) a ``fit``
    runs, at least 1.  Reaching it ends the fit with the stop reason
    ``"max_iter"`` and a ``ConvergenceWarning``.""",
    "tol": """\
tol : float, default={default}
    Tolerance of the stop rules, at least 0.  The fit has converged when the
    norm of the objective's gradient is at most ``tol``; a first-order fit
    has stalled when the monitored loss has not improved by ``tol·|loss|``
    for ``n_iter_no_change`` epochs.  L-BFGS also stops when its largest
    gradient entry is at most ``tol/√p`` (``p`` parameters) or when the
    objective cannot decrease further at the working precision.""",
    "n_iter_no_change": """\
n_iter_no_change : int, default={default}
    Epochs without a relative improvement of ``tol`` in the monitored loss
    (the validation loss with ``early_stopping``, else the training loss)
    after which a first-order fit stops as stalled, at least 1; under an
    adaptive rule, only once its rate is at its floor.  Also the patience
    (minus 2) of the default mini-batch schedule.  Not used by L-BFGS.""",
    "clip_norm": """\
clip_norm : float or None, default={default}
    If set (greater than 0), every first-order step scales the gradient to
    a global norm (over all parameters) of at most ``clip_norm``:
    g ← g·min(1, clip_norm/(‖g‖ + 1e-6)), after ``clip_value``.  None: no
    clipping, or the optimizer object's own setting.  Not used by L-BFGS or
    ``ArmijoLineSearch``.""",
    "clip_value": """\
clip_value : float or None, default={default}
    If set (greater than 0), every first-order step first clamps each
    gradient entry to [−clip_value, clip_value].  None: no clamping, or the
    optimizer object's own setting.  Not used by L-BFGS or
    ``ArmijoLineSearch``.""",
    "early_stopping": """\
early_stopping : bool, default={default}
    Whether to hold out ``validation_fraction`` of the training rows (drawn
    with ``random_state``; of each class for classifiers) and to monitor
    their mean loss, recorded as ``history_["validation_loss"]``, instead of
    the training loss: the stop rules watch it and a fit that ends worse
    than its best epoch returns that epoch's parameters.  The held-out rows
    get weight 0 (X is not copied).  Needs a first-order optimizer (``"auto"``
    picks Adam, ``"lbfgs"`` is a ``ValueError``) and in-memory data (a Dask
    X is a ``ValueError``).""",
    "validation_fraction": """\
validation_fraction : float, default={default}
    The fraction of rows held out with ``early_stopping``, strictly between
    0 and 1 (``ValueError`` if it leaves no training or no validation
    rows).  Not used without ``early_stopping``.""",
    "warm_start": """\
warm_start : bool, default={default}
    Whether ``fit`` starts from the parameters of the previous fit (when
    their shapes match the data) instead of a fresh initialization.  The
    optimizer's state starts afresh either way; ``partial_fit`` always
    continues.""",
    "random_state": """\
random_state : int, numpy.random.RandomState or None, default={default}
    Seed of the fit's random choices: the row order of each mini-batch
    epoch, the rows held out by ``early_stopping`` and a network's initial
    weights.  An int in [0, 2³² − 1] makes fits repeatable; None draws fresh
    randomness; a ``RandomState`` is drawn from.""",
    "verbose": """\
verbose : int or bool, default={default}
    Progress reports, at least 0.  0 (False): none.  1 (True): a progress bar
    on a terminal or in a notebook, and a closing line with the stop
    reason, loss and gradient norm.  2 or more: also one line per epoch.""",
    "backend": """\
backend : {"cython", "numba", "numpy"} or None, default={default}
    The kernels that do the work: ``"cython"`` (compiled ahead of time),
    ``"numba"`` (compiled just in time, cached on disk) or ``"numpy"`` (the
    NumPy reference).  None: the current default backend
    (:func:`fastgd.set_backend`, else the ``FASTGD_BACKEND`` environment
    variable, else the first available of cython, numba, numpy).  A backend
    that cannot load here is an ``ImportError`` at ``fit``.  The backends
    agree up to rounding.""",
    "n_threads": """\
n_threads : int or None, default={default}
    Threads of the compiled kernels, at least 1; None: every core the process
    may use.  Results are deterministic for a given ``n_threads`` on any
    machine.  With Dask inputs, the threads of each chunk's task (1 when
    None).""",
    # ---- fitted attributes -------------------------------------------------------------------------------------
    "n_iter_": """\
n_iter_ : int
    Epochs run by the last ``fit`` (for L-BFGS, iterations); 1 after a
    ``partial_fit``.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen in ``fit``.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (n_features,)
    Names of the features seen in ``fit``, when X is a DataFrame with string
    column names (scikit-learn's convention; needs scikit-learn).""",
    "history_": """\
history_ : dict of str to ndarray
    Per-epoch records of the last ``fit`` (or ``partial_fit``), each a float64
    array of ``n_iter_`` values: ``"loss"`` (the objective: the loss at the
    epoch's starting parameters in full-batch training, the mean over the
    epoch's batches in mini-batch training), ``"grad_norm"`` (the norm of
    its gradient; in mini-batch training of the mean of the epoch's batch
    gradients), ``"grad_change"`` (‖g_t − g_{t−1}‖/‖g_{t−1}‖, NaN at the
    first epoch), ``"lr"`` (the rate, not for L-BFGS) and, with
    ``early_stopping``, ``"validation_loss"``.""",
    "stop_reason_": """\
stop_reason_ : str
    Why the last fit ended: ``"converged"`` (gradient norm at most ``tol``),
    ``"stalled"`` (no progress for ``n_iter_no_change`` epochs; a warning
    when the gradient is still far above ``tol``), ``"precision"`` (L-BFGS:
    no further decrease at the working precision), ``"diverged"`` (a
    non-finite loss or one above 1000 times the initial one; the best
    parameters seen are kept and a ``RuntimeWarning`` names remedies) or
    ``"max_iter"`` (the budget ran out; after a ``partial_fit``, which runs
    one epoch, the usual reason, without a warning).""",
    "network_fitted": """\
coefs_ : list of ndarray
    The weight matrices, the l-th of shape (units of layer l − 1, units of
    layer l) from the input layer to the output layer, in X's floating
    dtype.
intercepts_ : list of ndarray
    The bias vectors, the l-th of shape (units of layer l,).
out_activation_ : str
    The output function: ``"logistic"`` (two classes), ``"softmax"`` (three
    or more) or ``"identity"`` (regression).
loss_curve_ : list of float
    The loss of each epoch, ``history_["loss"]``.""",
    # ---- method parameters -------------------------------------------------------------------------------------
    "X_predict": """\
X : array-like of shape (n_samples, n_features) or Dask collection
    The samples: float32 is computed in float32, float64 in float64,
    integers and booleans are converted to float64.  A Dask array or Dask
    DataFrame gives a lazy Dask array, computed block by block.""",
    # ---- method sections ---------------------------------------------------------------------------------------
    "shared_method_example": """\
This method is shared by ``LinearRegression``, ``LogisticRegression``,
``MLPClassifier`` and ``MLPRegressor`` and is called the same way on each.""",
    "regressor_predict_see_also": """\
score : The R² of the predictions.
fit : Train the model.""",
    # ---- notes -------------------------------------------------------------------------------------------------
    "fit_notes": """\
A fit is one loop over epochs (for L-BFGS, iterations): once per epoch Python
records ``history_``, reports progress and applies the stop rules, while the
epoch's work runs in the backend's kernels (for a network's full-batch and
L-BFGS training, NumPy's matrix products).  float32 data trains in float32,
with sums accumulated in float64.  A first-order fit that ends worse than its
best epoch (the lowest monitored loss) returns that epoch's parameters.  With
scikit-learn installed, the estimator is a scikit-learn estimator: ``clone``,
``Pipeline`` and ``GridSearchCV`` work with it.""",
    "network_notes": """\
The network: A_0 = X, A_l = act(A_{l−1}·W_l + b_l) for the hidden layers, and
the output z = A_L·W_out + b_out goes to the loss.  Initialization is
scikit-learn's (Glorot uniform: W_l and b_l uniform in ±√(6/(fan_in +
fan_out)), 2 instead of 6 for logistic units), seeded by ``random_state``.
Parameter names follow scikit-learn's ``MLPClassifier`` and ``MLPRegressor``
where one exists; ``optimizer`` and ``lr`` stand for ``solver`` and
``learning_rate_init``.  Where they disagree fastgd's meaning wins: ``alpha``
penalizes the mean loss, α/2·‖W‖², as in the linear models, while
scikit-learn's MLP adds α/(2·b)·‖W‖² to the mean loss of a batch of b samples
(for full-batch training its ``alpha`` is ``n_samples`` times fastgd's);
``max_iter`` counts epochs (for L-BFGS, iterations), and
``tol`` and ``n_iter_no_change`` are fastgd's stop rules.  For a ReLU network,
``history_`` also records ``"dead_fraction_layer{l}"``, the fraction of the
units of hidden layer l that output zero on every sample of the epoch; a
layer that is entirely dead gets a ``RuntimeWarning`` (its gradient is zero,
which is not convergence).""",
    "dask_notes": """\
Dask arrays and Dask DataFrames of numeric columns are accepted wherever
NumPy arrays are (``pip install "fastgd[dask]"``).  ``fit`` keeps the data on
the workers, split by rows: each evaluation of the objective runs the fused
loss+gradient kernel on every chunk and adds the per-chunk sums on the
client, so L-BFGS, full-batch descent and ``ArmijoLineSearch`` run as in one
process.  Mini-batch training runs local epochs: every chunk takes one epoch
of mini-batch steps over its own rows from the same parameters, then the
chunks' parameters and optimizer states are averaged, weighted by each
chunk's total sample weight.  ``predict`` and the other prediction methods
return lazy Dask arrays; ``score`` is computed on the workers and returns a
float.  ``early_stopping`` is not available for Dask inputs.""",
}

PARAGRAPHS["network_history_"] = PARAGRAPHS["history_"] + """
    Per layer l = 1, 2, ..., also ``"grad_norm_layer{l}"``, the norm of the
    gradient of its weights and biases, and for a ReLU network
    ``"dead_fraction_layer{l}"`` for each hidden layer (see Notes)."""


def fill_doc(obj, paragraphs=None):
    """Replace each placeholder line ``{name}`` of ``obj``'s docstring by ``paragraphs[name]``; return ``obj``.

    Parameters
    ----------
    obj : class or function
        A class (defaults read from its constructor) or a function (from its own signature).
    paragraphs : dict of str to str, optional
        The paragraphs by name; the estimators' ``PARAGRAPHS`` when None.

    Returns
    -------
    class or function
        ``obj``, its ``__doc__`` filled.
    """
    signature = inspect.signature(obj)

    paragraphs = PARAGRAPHS if paragraphs is None else paragraphs

    def paragraph(match):
        text = paragraphs[match["name"]]
        if "{default}" in text:
            name = text.split(" ", 1)[0]
            text = text.replace("{default}", _default_text(signature.parameters[name].default))
        return "\n".join(match["indent"] + line if line else "" for line in text.splitlines())

    obj.__doc__ = _PLACEHOLDER_LINE.sub(paragraph, obj.__doc__)
    return obj


def _default_text(value):
    """A default as a docstring shows it: strings in double quotes, everything else as its repr."""
    return f'"{value}"' if isinstance(value, str) else repr(value)
