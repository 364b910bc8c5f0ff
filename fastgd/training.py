"""The fit loop: one loop, four ways to step, the same history, stop rules and messages.

The objective is ``mean loss + alpha/2 ||w||^2`` (the intercept is not
penalized).  Parameters travel as one vector ``theta = [w_1 .. w_d, b]`` in X's
dtype.  :func:`train` runs one of four strategies on one :class:`FitLoop`:

* full batch -- per epoch one fused loss+gradient pass and one optimizer step;
* mini-batch -- per epoch one call of the backend's ``minibatch_epoch`` (linear
  models) or ``network_epoch`` (networks, multinomial models) kernel, which runs
  every mini-batch step in compiled code;
* Armijo -- full-batch gradient descent with a backtracking line search;
* L-BFGS -- SciPy's L-BFGS-B on the fused loss+gradient (counted in iterations).

Python runs once per epoch (iteration): the :class:`FitLoop` records the
history, reports progress, guards against divergence and applies the stop
rules.  Stop reasons (``STOP_REASONS``):

* ``converged`` -- ``||g|| <= tol``: the gradient is small;
* ``stalled`` -- the loss improved by less than ``tol |loss|`` for
  ``n_iter_no_change`` epochs while the gradient is not small (a plateau, a
  saddle region or a step too small; under an adaptive rule only once its rate
  is at its floor);
* ``precision`` -- (L-BFGS) the objective cannot decrease any further at the
  working precision although ``||g|| > tol``: the answer is as good as the
  arithmetic allows, not a plateau;
* ``diverged`` -- a non-finite loss, or one above 1e3 x the loss at the initial
  parameters (in mini-batch training estimated on up to 1024 rows before the
  first step, as the first epoch's mean may already have exploded): the best
  parameters seen are kept (the initial ones if the first epoch diverged) and
  a warning names the fixes;
* ``max_iter`` -- the budget ran out (a ``ConvergenceWarning``).

A first-order run that ends worse than the best epoch it had (the lowest
monitored loss: the validation loss with early stopping, else the training
loss) returns that epoch's parameters and optimizer state; a warning says so
when those are the initial parameters (the run never improved), and when a
run stalls with ``grad_norm > 100 tol``.

The history holds, per epoch, ``loss``, ``grad_norm`` (in mini-batch training
the norm of the mean of the epoch's batch gradients, which costs nothing),
``grad_change = ||g_t - g_{t-1}|| / ||g_{t-1}||`` (NaN at the first epoch),
``lr`` (not for L-BFGS, which has no learning rate) and, with a validation set,
``validation_loss``.
"""

import math
import sys
import threading
import warnings
from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from fastgd import _validation as v
from fastgd import network
from fastgd import schedules as sch
from fastgd._sklearn_compat import ConvergenceWarning
from fastgd.backends import raw_kernels
from fastgd.backends._spec import ACTIVATION_CODES, LOSS_CODES, OUTPUT_CODES

STOP_REASONS = ("converged", "stalled", "precision", "diverged", "max_iter")
LOSSES = (*LOSS_CODES, "multinomial", "network")  # compiled epochs (multinomial without intercepts: batch by batch)
DIVERGENCE_FACTOR = 1e3


@dataclass
class Problem:
    """The data and the objective of one fit (validated by the caller).

    ``decoupled``: the penalty is applied by the optimizer as decoupled weight
    decay (AdamW), so the stepped gradient leaves it out.
    """

    X: np.ndarray
    y: np.ndarray  # targets; for "multinomial" class indices 0 .. n_classes - 1 in X's dtype
    sample_weight: np.ndarray  # or None
    loss: str  # one of LOSSES
    alpha: float
    fit_intercept: bool
    decoupled: bool = False
    n_classes: int = 2  # "multinomial" only

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}")

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_outputs(self):
        """Intercepts, and columns of the weight matrix: k for multinomial, else 1."""
        return self.n_classes if self.loss == "multinomial" else 1

    @property
    def n_weights(self):
        """The penalized part of ``theta``: ``W`` (d, k) row-major, or ``w`` (d,)."""
        return self.n_features * self.n_outputs

    def split(self, theta):
        """``(W, b)``: views of ``theta`` as the weights ((d, k) or (d,)) and the intercepts."""
        W = theta[:self.n_weights]
        return (W.reshape(self.n_features, self.n_outputs) if self.loss == "multinomial" else W), theta[self.n_weights:]

    def loss_grad(self, backend, theta, grad, n_threads):
        """The weighted mean loss at ``theta`` (no penalty); its gradient written into ``grad``."""
        W, b = self.split(theta)
        grad_W, grad_b = self.split(grad)
        if self.loss == "multinomial":
            return backend.softmax_loss_grad(self.X, self.y, W, b, self.sample_weight, grad_W, grad_b,
                                             n_threads=n_threads)
        kernel = backend.logistic_loss_grad if self.loss == "log_loss" else backend.squared_loss_grad
        loss, grad_b[0] = kernel(self.X, self.y, W, float(b[0]), self.sample_weight, grad_W, n_threads=n_threads)
        return loss

    def diagnostics(self, grad):
        """Extra per-epoch history columns (none for a linear model)."""
        return {}

    def minibatch_runner(self, settings):
        """The runner of this problem's mini-batch epochs (:func:`minibatch_runner`)."""
        return minibatch_runner(self, settings)

    def row_sample(self, backend):
        """The :class:`RowSample` that compares parameters in mini-batch training."""
        return RowSample(backend, self)

    def check_finite(self):
        """Raise ``ValueError`` when X holds NaN or infinity.  A fit validates y and the weights up front but looks
        at X only when training meets a non-finite value (it saves a pass over X); a divergence caused by the data
        is then reported as bad input, not as a training failure."""
        v.check_finite(self.X, "X")


@dataclass
class NetworkProblem(Problem):
    """A :class:`fastgd.network.Network` on the data: its loss by backpropagation in NumPy.

    ``record``: the training problem notes which hidden units were active (the
    dead-unit diagnostic); the held-out and sample problems do not.
    """

    network: object = None
    record: bool = False

    @property
    def n_weights(self):
        return self.network.n_weights

    def split(self, theta):
        return theta[:self.n_weights], theta[self.n_weights:]

    def loss_grad(self, backend, theta, grad, n_threads):
        return self.network.loss_grad(self.X, self.y, self.sample_weight, theta, grad, record=self.record)

    def diagnostics(self, grad):
        return self.network.diagnostics(grad)


@dataclass
class Settings:
    """How to train: the stop rules and the execution choices."""

    max_iter: int
    tol: float
    n_iter_no_change: int
    batch_size: int = None
    backend: str = None
    n_threads: int = 1
    verbose: int = 0
    random_state: object = None
    owner: str = "fastgd"  # the estimator's name, for messages
    warn_at_max_iter: bool = True  # False for a single partial_fit epoch


@dataclass
class Result:
    theta: np.ndarray
    history: dict
    stop_reason: str
    n_iter: int


class _BlasLimit:
    """BLAS held to one thread while any compiled fit runs, in any thread.

    OpenBLAS's thread count is process-wide, so the limit is reference-counted:
    the first fit to enter sets it to 1, the last to leave restores the count
    found by the first.  Meanwhile every BLAS call of the process, other
    threads' included, runs on one thread.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter = None

    def acquire(self):
        with self._lock:
            if self._holders == 0:
                from threadpoolctl import threadpool_limits

                self._limiter = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1

    def release(self):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_BLAS_LIMIT = _BlasLimit()


@contextmanager
def blas_held_to_one_thread(backend_name):
    """Hold BLAS to one thread while compiled kernels run (two thread pools on two cores
    fight); safe when fits overlap in several threads (see :class:`_BlasLimit`).

    The NumPy backend computes with BLAS, so it keeps BLAS's own threads.
    """
    if raw_kernels(backend_name).name == "numpy":
        yield
        return
    _BLAS_LIMIT.acquire()
    try:
        yield
    finally:
        _BLAS_LIMIT.release()


def objective(backend, problem, theta, grad, n_threads):
    """``mean loss + alpha/2 ||W||^2`` at ``theta`` (intercepts not penalized); its gradient written into ``grad``."""
    loss = problem.loss_grad(backend, theta, grad, n_threads)
    weights = theta[:problem.n_weights]
    if problem.alpha:
        w64 = weights.astype(np.float64)
        loss += 0.5 * problem.alpha * float(w64 @ w64)
        grad[:problem.n_weights] += problem.alpha * weights
    if not problem.fit_intercept:
        grad[problem.n_weights:] = 0.0
    return loss


# ---- the loop's bookkeeping ---------------------------------------------------------------


@dataclass
class History:
    """Per-epoch records, turned into arrays at the end."""

    columns: dict = field(default_factory=lambda: {"loss": [], "grad_norm": [], "grad_change": []})
    previous_grad: np.ndarray = None

    def record(self, loss, grad, **extra):
        grad = np.asarray(grad, dtype=np.float64)
        norm = _norm(grad)
        if self.previous_grad is None:
            change = math.nan
        else:
            base = _norm(self.previous_grad)
            change = _norm(grad - self.previous_grad) / base if base > 0 else math.inf
        self.previous_grad = grad.copy()
        for name, value in dict(loss=loss, grad_norm=norm, grad_change=change, **extra).items():
            self.columns.setdefault(name, []).append(float(value))
        return norm

    def __len__(self):
        return len(self.columns["loss"])

    def losses_finite(self):
        """True when every recorded loss, held-out loss and gradient norm is finite."""
        watched = ("loss", "validation_loss", "grad_norm")
        return all(math.isfinite(value) for name in watched for value in self.columns.get(name, ()))

    def arrays(self):
        return {name: np.asarray(values, dtype=np.float64) for name, values in self.columns.items()}


def _norm(vector):
    """The L2 norm of a float64 vector, without overflow in the sum of squares."""
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.linalg.norm(vector))
        if math.isinf(norm) and np.isfinite(vector).all():
            largest = float(np.max(np.abs(vector)))
            norm = largest * float(np.linalg.norm(vector / largest))
    return norm


class StopRules:
    """Decides after each epoch whether training ends, and why."""

    def __init__(self, tol, n_iter_no_change):
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.initial_loss = None
        self.best_loss, self.epochs_without_progress = math.inf, 0

    def diverged(self, loss):
        """A non-finite loss, or one over DIVERGENCE_FACTOR x the first loss seen."""
        if not math.isfinite(loss):
            return True
        if self.initial_loss is None:
            self.initial_loss = loss
            return False
        return self.initial_loss > 0 and loss > DIVERGENCE_FACTOR * self.initial_loss

    def after_epoch(self, loss, grad_norm, rate_at_floor=True):
        """``"converged"``, ``"stalled"`` or ``None`` (go on)."""
        if grad_norm <= self.tol:
            return "converged"
        if loss < self.best_loss - self.tol * abs(loss):
            self.best_loss, self.epochs_without_progress = loss, 0
        else:
            self.best_loss = min(self.best_loss, loss)
            self.epochs_without_progress += 1
        if self.epochs_without_progress >= self.n_iter_no_change and rate_at_floor:
            return "stalled"
        return None


class _Progress:
    """Progress for ``verbose >= 1``: a bar on a terminal or in a notebook, one line per
    epoch with ``verbose >= 2`` (written through the bar, so lines never interleave), and
    a closing summary line where no bar can be drawn (a pipe or a file)."""

    def __init__(self, settings, unit):
        self.verbose, self.unit, self.bar = settings.verbose, unit, None
        if self.verbose >= 1 and _can_draw_a_bar():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=settings.max_iter, desc=settings.owner, unit=unit, leave=False, dynamic_ncols=True)

    def update(self, epoch, history):
        last = {name: values[-1] for name, values in history.columns.items()}
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{last['loss']:.6g}", grad_norm=f"{last['grad_norm']:.3g}", refresh=False)
            self.bar.update(1)
        if self.verbose >= 2:
            rate = f", lr {last['lr']:.4g}" if "lr" in last else ""
            self._write(f"{self.unit} {epoch + 1}: loss {last['loss']:.8g}, grad_norm {last['grad_norm']:.4g}{rate}")

    def close(self, reason, n_iter, history):
        if self.bar is not None:
            self.bar.close()
        if self.verbose >= 1 and len(history):
            print(f"stopped after {n_iter} {self.unit}s ({reason}): loss {history.columns['loss'][-1]:.8g}, "
                  f"grad_norm {history.columns['grad_norm'][-1]:.4g}", flush=True)

    def _write(self, line):
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)


def _can_draw_a_bar():
    """A terminal or a notebook (tqdm.auto picks the widget), not a pipe or a file."""
    try:
        return sys.stderr.isatty() or "ipykernel" in sys.modules
    except (AttributeError, ValueError):
        return False


class FitLoop:
    """What every strategy shares: the history, the stop rules, the progress report, the
    divergence guard and the closing messages.  A strategy calls :meth:`end_of_epoch`
    after each epoch (iteration) and stops when it returns a reason."""

    def __init__(self, settings, problem, *, unit="epoch", advice, stall_rule=True):
        self.settings, self.problem, self.unit, self.advice = settings, problem, unit, advice
        self.history = History()
        no_change = settings.n_iter_no_change if stall_rule else math.inf
        self.stops = StopRules(settings.tol, no_change)
        self.reason, self.epoch, self.kept = None, 0, None

    def diverged(self, loss):
        """True (and the stop reason set) when ``loss`` shows divergence."""
        if self.stops.diverged(loss):
            self.reason = "diverged"
            return True
        return False

    def end_of_epoch(self, loss, grad, *, rate_at_floor=True, **extra):
        """Record the epoch; return the stop reason, or None to go on."""
        watched = extra.get("validation_loss", loss)
        grad_norm = self.history.record(loss, grad, **extra)
        self.progress.update(self.epoch, self.history)
        self.epoch += 1
        reason = self.stops.after_epoch(watched, grad_norm, rate_at_floor)
        if reason is None and self.epoch >= self.settings.max_iter:
            reason = "max_iter"
        if reason is not None:
            self.reason = reason
        return reason

    def keep_best(self, best, theta, optimizer):
        """Return to the best checkpoint when the run ended worse than it, or diverged."""
        if self.reason == "converged" or not len(self.history) and self.reason != "diverged":
            return
        last = self.history.columns.get("validation_loss", self.history.columns["loss"])
        if self.reason == "diverged" or best.loss < last[-1]:
            best.checkpoint.restore(theta, optimizer)
            self.kept = best

    def keep_start_if_better(self, best, sample, theta, optimizer):
        """Mini-batch: return to the initial parameters when they are better on the row sample."""
        start, end = self.stops.initial_loss, sample.loss(theta)
        if start is not None and (end is None or end > start):
            best.back_to_start(start)
            best.checkpoint.restore(theta, optimizer)
            self.kept = best

    @contextmanager
    def running(self):
        self.progress = _Progress(self.settings, self.unit)
        try:
            yield self
        finally:
            self.progress.close(self.reason or "max_iter", max(self.epoch, 1), self.history)

    def _kept_words(self):
        if self.kept is None:
            return ""
        if self.kept.epoch == 0:
            return "the initial parameters are kept"
        return f"the parameters of {self.unit} {self.kept.epoch} (loss {self.kept.loss:.6g}), the best seen, are kept"

    def _first_loss(self):
        return self.stops.initial_loss if self.stops.initial_loss is not None else self.history.columns["loss"][0]

    def result(self, theta):
        """The :class:`Result`, after the warning the stop reason calls for; ``ValueError`` when a non-finite
        value met in training came from NaN or infinity in X."""
        self.reason = self.reason or "max_iter"
        if self.reason == "diverged" or not self.history.losses_finite():
            self.problem.check_finite()
        n_iter = max(self.epoch + (self.reason == "diverged"), 1)
        owner, unit = self.settings.owner, self.unit
        kept = self._kept_words()
        if self.reason == "diverged":
            warnings.warn(
                f"{owner}: training diverged at {unit} {self.epoch + 1} (the loss became non-finite or grew over "
                f"{DIVERGENCE_FACTOR:g} times its initial value); {kept or 'the parameters before it are kept'}. "
                f"To fix it: {self.advice['diverged']}.", RuntimeWarning, stacklevel=4)
        elif self.kept is not None and self.kept.epoch == 0:
            warnings.warn(
                f"{owner}: training ended worse than it started (loss {self._first_loss():.6g} -> "
                f"{self.history.columns['loss'][-1]:.6g}); {kept}. To fix it: {self.advice['diverged']}.",
                ConvergenceWarning, stacklevel=4)
        elif self.reason == "stalled" and self.history.columns["grad_norm"][-1] > 100 * self.settings.tol:
            warnings.warn(
                f"{owner}: the loss stopped improving for {self.settings.n_iter_no_change} {unit}s while the gradient "
                f"norm {self.history.columns['grad_norm'][-1]:.3g} is far above tol={self.settings.tol} (a plateau, "
                f"a saddle, or a learning rate too small or too large){'; ' + kept if kept else ''}. "
                f"{self.advice['stalled']}.", ConvergenceWarning, stacklevel=4)
        elif self.reason == "max_iter" and self.settings.warn_at_max_iter:
            warnings.warn(
                f"{owner} reached max_iter={self.settings.max_iter} {unit}s before converging "
                f"(gradient norm {self.history.columns['grad_norm'][-1]:.3g} > tol={self.settings.tol}); "
                f"{self.advice['max_iter']}.", ConvergenceWarning, stacklevel=4)
        return Result(theta, self.history.arrays(), self.reason, n_iter)


FIRST_ORDER_ADVICE = {
    "diverged": "lower the learning rate (lr), set clip_norm, or standardize the features",
    "stalled": "Try another learning rate (lr) or schedule, an adaptive optimizer, or standardized features",
    "max_iter": "increase max_iter or the learning rate, or standardize the features",
}
LBFGS_ADVICE = {
    "diverged": "standardize the features, or increase alpha",
    "stalled": "Standardize the features",
    "max_iter": "increase max_iter, or standardize the features",
}


# ---- the strategies -----------------------------------------------------------------------


def train(problem, theta, settings, optimizer=None, schedule=None, validation=None):
    """Fit ``theta`` in place: L-BFGS without ``optimizer``, else first-order steps of
    ``optimizer`` (a :mod:`fastgd.optim` object, stepped in place) at the rates of
    ``schedule`` (full batch, mini-batch with ``settings.batch_size``, or an Armijo line
    search).  ``validation(theta)`` gives the loss watched by the stop rules."""
    backend = raw_kernels(settings.backend)
    if optimizer is None:
        return _lbfgs(problem, theta, settings, backend)
    if isinstance(schedule, sch.ArmijoLineSearch):
        return _armijo(problem, theta, optimizer, schedule, settings, backend, validation)
    return _first_order(problem, theta, optimizer, schedule, settings, backend, validation)


class _Rates:
    """The learning rate of each epoch, from a schedule (epoch -> lr) or an adaptive rule."""

    def __init__(self, schedule):
        self.rule = schedule if isinstance(schedule, sch.AdaptiveRule) else None
        self.schedule = schedule
        self.lr = self.rule.start() if self.rule is not None else None

    def at(self, epoch):
        return self.lr if self.rule is not None else self.schedule(epoch)

    def observe(self, loss):
        """The rule's :class:`Decision` on this epoch's loss (a fixed schedule never undoes)."""
        if self.rule is None:
            return sch.Decision(math.nan, at_floor=True)
        decision = self.rule.observe(loss)
        self.lr = decision.lr
        return decision


class _Checkpoint:
    """The parameters and the optimizer's state at one moment, to return to."""

    def __init__(self, theta, optimizer):
        self.theta, self.optimizer_state = theta.copy(), optimizer.snapshot()

    def restore(self, theta, optimizer):
        theta[...] = self.theta
        optimizer.restore(self.optimizer_state)


class _Best:
    """The lowest monitored loss seen and the checkpoint it describes (the answer of a run
    that ends worse, or diverges); until an epoch is offered, the initial parameters."""

    def __init__(self, theta, optimizer):
        self.start = _Checkpoint(theta, optimizer)
        self.loss, self.checkpoint, self.epoch = math.inf, self.start, 0

    def offer(self, loss, epoch, make_checkpoint):
        if loss < self.loss:
            self.loss, self.checkpoint, self.epoch = loss, make_checkpoint(), epoch

    def back_to_start(self, loss):
        self.loss, self.checkpoint, self.epoch = loss, self.start, 0


def _first_order(problem, theta, optimizer, schedule, settings, backend, validation):
    """Full-batch or mini-batch steps of ``optimizer``; the rate set once per epoch."""
    loop, rates = FitLoop(settings, problem, advice=FIRST_ORDER_ADVICE), _Rates(schedule)
    grad = np.empty(theta.shape[0], dtype=theta.dtype)
    full_batch = settings.batch_size is None
    epoch_runner = _full_batch_epoch if full_batch else problem.minibatch_runner(settings)
    sample = None if full_batch else problem.row_sample(backend)
    if sample is not None:  # the first epoch's mean may have exploded already: measure against the start
        loop.stops.initial_loss = sample.loss(theta)
    best = _Best(theta, optimizer)
    previous = _Checkpoint(theta, optimizer)
    with loop.running():
        for epoch in range(settings.max_iter):
            optimizer.lr = rates.at(epoch)
            before = _Checkpoint(theta, optimizer)
            with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is the divergence guard's
                loss = epoch_runner(backend, problem, theta, grad, optimizer, settings)
            # the loss describes the parameters before this epoch's step (full batch) or the epoch's path
            restore_point = previous if full_batch else before
            if loop.diverged(loss):
                break
            extra = {"lr": optimizer.lr, **problem.diagnostics(grad)}
            if validation is not None:
                extra["validation_loss"] = validation(theta)
            watched = extra.get("validation_loss", loss)
            if full_batch and validation is None:  # the loss of theta_epoch, the parameters before the step
                best.offer(watched, epoch, lambda: before)
            else:  # a loss of the parameters at the end of the epoch
                best.offer(watched, epoch + 1, lambda: _Checkpoint(theta, optimizer))
            decision = rates.observe(watched)
            if loop.end_of_epoch(loss, grad, rate_at_floor=decision.at_floor, **extra) is not None:
                break
            if decision.undo:
                restore_point.restore(theta, optimizer)
            else:
                previous = before
        loop.keep_best(best, theta, optimizer)
        if sample is not None and loop.kept is None and loop.reason != "converged":
            loop.keep_start_if_better(best, sample, theta, optimizer)
    return loop.result(theta)


class RowSample:
    """Up to 1024 rows spread evenly over X (no randomness consumed): the objective there
    compares parameters in mini-batch training, where epoch means describe a path."""

    def __init__(self, backend, problem):
        n = problem.X.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, 1024)).astype(np.intp))
        weights = None if problem.sample_weight is None else problem.sample_weight[rows]
        self.backend, self.empty = backend, weights is not None and not weights.any()
        self.problem = dataclasses.replace(problem, X=problem.X[rows], y=problem.y[rows], sample_weight=weights)

    def loss(self, theta):
        """The objective on the sample at ``theta``, or None (not finite, or no weight)."""
        if self.empty:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            loss = objective(self.backend, self.problem, theta, np.empty_like(theta), 1)
        return loss if math.isfinite(loss) else None


def _full_batch_epoch(backend, problem, theta, grad, optimizer, settings):
    """The loss at theta_t, then one step to theta_{t+1}; returns the loss at theta_t."""
    loss = objective(backend, problem, theta, grad, settings.n_threads)
    if not math.isfinite(loss):
        return loss
    _step_penalized(problem, theta, grad.copy(), optimizer)
    return loss


def _step_penalized(problem, theta, stepped, optimizer):
    """One step of ``optimizer`` on the weights and the intercepts (which take no weight decay)
    from the recorded gradient ``stepped``, without its penalty when the decay is decoupled."""
    d = problem.n_weights
    if problem.decoupled:
        stepped[:d] -= problem.alpha * theta[:d]
    optimizer.step([theta[:d], theta[d:]], [stepped[:d], stepped[d:]], no_weight_decay=(1,))


def minibatch_runner(problem, settings):
    """A runner of mini-batch epochs, each over a fresh permutation of the rows: compiled
    (``minibatch_epoch`` for the losses of LOSS_CODES, ``network_epoch`` for networks and multinomial models with
    intercepts), batch by batch through ``optimizer.step`` for a multinomial model without intercepts."""
    rng = np.random.default_rng(settings.random_state)

    def run(backend, problem, theta, grad, optimizer, settings):
        order = rng.permutation(problem.X.shape[0])
        if problem.loss == "network":
            return _network_epoch(backend, problem.network, problem, theta, grad, optimizer, settings, order)
        if problem.loss == "multinomial" and problem.fit_intercept:  # a network without hidden layers: the same layout
            net = network.Network((problem.n_features, problem.n_classes), "identity", "softmax")
            return _network_epoch(backend, net, problem, theta, grad, optimizer, settings, order)
        if problem.loss not in LOSS_CODES:
            return _stepped_epoch(backend, problem, theta, grad, optimizer, settings, order)
        grad64 = np.empty(theta.shape[0], dtype=np.float64)
        loss, n_steps = backend.minibatch_epoch(
            problem.X, problem.y, problem.sample_weight, order, theta, grad_mean=grad64, **optimizer.bind(theta),
            loss=LOSS_CODES[problem.loss], batch_size=min(settings.batch_size, problem.X.shape[0]), alpha=problem.alpha,
            decoupled=problem.decoupled, fit_intercept=problem.fit_intercept, n_threads=settings.n_threads,
        )
        optimizer.advance(n_steps)
        grad[...] = grad64
        return loss

    return run


def _network_epoch(backend, net, problem, theta, grad, optimizer, settings, order):
    """One compiled epoch of mini-batch steps of the network ``net`` (the backend's ``network_epoch``)."""
    active = np.zeros(sum(net.sizes[1:-1]), dtype=np.uint8)
    grad64 = np.empty(theta.shape[0], dtype=np.float64)
    loss, n_steps = backend.network_epoch(
        problem.X, problem.y.reshape(problem.X.shape[0], -1), problem.sample_weight, order, theta, grad_mean=grad64,
        active=active, **optimizer.bind(theta), sizes=np.array(net.sizes, dtype=np.int64),
        activation=ACTIVATION_CODES[net.activation], output=OUTPUT_CODES[net.output],
        batch_size=min(settings.batch_size, problem.X.shape[0]), alpha=problem.alpha, decoupled=problem.decoupled,
        n_threads=settings.n_threads,
    )
    optimizer.advance(n_steps)
    grad[...] = grad64
    net.note_active(active)
    return loss


def _stepped_epoch(backend, problem, theta, grad, optimizer, settings, order):
    """One epoch of mini-batch steps, one ``optimizer.step`` per batch (the rule of the
    compiled epochs: the batch's own weighted mean objective, the intercepts undecayed);
    ``grad`` gets the mean of the batch gradients.  Returns the weight-averaged loss."""
    batch_grad = np.empty_like(theta)
    grad_sum, loss_sum, weight_sum, n_batches = np.zeros(theta.shape[0]), 0.0, 0.0, 0
    for start in range(0, len(order), settings.batch_size):
        rows = order[start:start + settings.batch_size]
        weights = None if problem.sample_weight is None else problem.sample_weight[rows]
        weight = float(len(rows)) if weights is None else float(np.sum(weights, dtype=np.float64))
        if weight == 0.0:
            continue
        batch = dataclasses.replace(problem, X=problem.X[rows], y=problem.y[rows], sample_weight=weights)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = objective(backend, batch, theta, batch_grad, 1)
        if not math.isfinite(loss):
            return loss
        grad_sum += batch_grad
        loss_sum, weight_sum, n_batches = loss_sum + loss * weight, weight_sum + weight, n_batches + 1
        _step_penalized(problem, theta, batch_grad.copy(), optimizer)
    grad[...] = grad_sum / max(n_batches, 1)
    return loss_sum / weight_sum if weight_sum > 0 else math.nan


def _armijo(problem, theta, optimizer, rule, settings, backend, validation):
    """Full-batch gradient descent with a backtracking (Armijo) line search."""
    if settings.batch_size is not None:
        raise ValueError("ArmijoLineSearch needs full-batch training (batch_size=None)")
    loop = FitLoop(settings, problem, advice=FIRST_ORDER_ADVICE)
    grad, trial_grad = np.empty_like(theta), np.empty_like(theta)
    loss, step = objective(backend, problem, theta, grad, settings.n_threads), rule.start()
    with loop.running():
        if loop.diverged(loss):
            return loop.result(theta)
        while True:
            extra = {} if validation is None else {"validation_loss": validation(theta)}
            if loop.end_of_epoch(loss, grad, lr=step, **extra) is not None:
                break
            step, trial_loss = _line_search(backend, problem, theta, grad, trial_grad, loss, step, rule, settings)
            if step is None:
                loop.reason = "stalled"
                break
            theta[...], grad[...], loss = theta - step * grad, trial_grad, trial_loss
            optimizer.advance(1)
            step = rule.observe(loss).lr
    return loop.result(theta)


def _line_search(backend, problem, theta, grad, trial_grad, loss, step, rule, settings):
    """The first accepted step from ``step`` down, and the loss there; ``(None, None)`` if none."""
    grad_sq = float(np.dot(grad.astype(np.float64), grad.astype(np.float64)))
    while step is not None:
        trial = (theta - step * grad).astype(theta.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            trial_loss = objective(backend, problem, trial, trial_grad, settings.n_threads)
        if math.isfinite(trial_loss) and rule.accepts(loss, trial_loss, grad_sq, step):
            return step, trial_loss
        step = rule.backtrack()
    return None, None


class _NonFinite(Exception):
    """The objective overflowed at a trial point of L-BFGS."""


def _lbfgs(problem, theta, settings, backend):
    """SciPy's L-BFGS-B driven by the fused loss+gradient kernel; the loop sees each iteration."""
    from scipy.optimize import minimize

    loop = FitLoop(settings, problem, unit="iteration", advice=LBFGS_ADVICE, stall_rule=False)
    grad = np.empty_like(theta)
    last = {}

    def fun(x):
        theta[...] = x
        if not last and np.array_equal(x, start):  # SciPy starts where the initial loss was just computed
            last.update(best, x=x.copy())
            return last["loss"], last["grad"]
        with np.errstate(over="ignore", invalid="ignore"):
            loss = objective(backend, problem, theta, grad, settings.n_threads)
        if not math.isfinite(loss):
            raise _NonFinite
        last.update(x=x.copy(), loss=loss, grad=grad.astype(np.float64))
        return loss, last["grad"]

    def callback(intermediate_result):
        if not np.array_equal(intermediate_result.x, last.get("x")):
            fun(intermediate_result.x)
        best.update(last)
        if loop.end_of_epoch(last["loss"], last["grad"], **problem.diagnostics(last["grad"])) is not None:
            raise StopIteration

    start = theta.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        initial_loss = objective(backend, problem, theta, grad, settings.n_threads)
    best = dict(x=start, loss=initial_loss, grad=grad.astype(np.float64))
    with loop.running():
        if loop.diverged(initial_loss):
            return loop.result(theta)
        try:  # ftol from float64 for float32 data too: the kernels sum the objective in float64, and a
            # float32 eps here stopped ill-conditioned float32 fits at a 1e-5 gap
            result = minimize(fun, start, jac=True, method="L-BFGS-B", callback=callback,
                              options=dict(maxiter=settings.max_iter, gtol=settings.tol / math.sqrt(theta.shape[0]),
                                           ftol=64 * np.finfo(np.float64).eps, maxcor=20))
        except _NonFinite:
            loop.reason, result = "diverged", None
        theta[...] = best["x"]
        if not len(loop.history):
            loop.end_of_epoch(best["loss"], best["grad"], **problem.diagnostics(best["grad"]))
        if loop.reason is None:
            loop.reason = _lbfgs_reason(result, loop, settings)
    return loop.result(theta)


def _lbfgs_reason(result, loop, settings):
    """Why SciPy stopped, in the loop's words."""
    if loop.history.columns["grad_norm"][-1] <= settings.tol:
        return "converged"
    if result.nit >= settings.max_iter:
        return "max_iter"
    return "precision"
