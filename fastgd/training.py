"""The fit loop: epochs, mini-batches, stop rules, history, divergence guard.

The objective is ``mean loss + alpha/2 ||w||^2`` (the intercept is not
penalized).  Parameters travel as one vector ``theta = [w_1 .. w_d, b]`` in X's
dtype.  An epoch is either one fused loss+gradient pass and one optimizer step
(full batch) or one call of the backend's ``minibatch_epoch`` kernel, which runs
every mini-batch step in compiled code.  Python runs once per epoch: it sets
the learning rate, records the history and applies the stop rules:

* ``converged`` -- ``||g|| <= tol``: the gradient is small;
* ``stalled`` -- the loss improved by less than ``tol |loss|`` for
  ``n_iter_no_change`` epochs while the gradient is not small (a plateau, a
  saddle region or a step too small; under an adaptive rule only once its rate
  is at its floor);
* ``diverged`` -- a non-finite loss, or one above 1e3 x the first epoch's: the
  parameters from the start of that epoch are kept and a warning names the fixes;
* ``max_iter`` -- the epoch budget ran out (a ``ConvergenceWarning``).

The history holds, per epoch, ``loss``, ``grad_norm`` (in mini-batch training
the norm of the mean of the epoch's batch gradients, which costs nothing),
``grad_change = ||g_t - g_{t-1}|| / ||g_{t-1}||`` (NaN at the first epoch) and
``lr``; with a validation set also ``validation_loss``.
"""

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from fastgd import schedules as sch
from fastgd.backends import get_backend
from fastgd.backends._spec import LOSS_CODES, OPTIMIZER_CODES

STOP_REASONS = ("converged", "stalled", "diverged", "max_iter")
DIVERGENCE_FACTOR = 1e3
DIVERGENCE_ADVICE = "lower the learning rate (lr), set clip_norm, or standardize the features"


@dataclass
class Problem:
    """The data and the objective of one fit (validated by the caller)."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray  # or None
    loss: str  # "log_loss" or "squared_error"
    alpha: float
    fit_intercept: bool

    @property
    def n_features(self):
        return self.X.shape[1]


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


@dataclass
class Result:
    theta: np.ndarray
    history: dict
    stop_reason: str
    n_iter: int


@dataclass
class History:
    """Per-epoch records, turned into arrays at the end."""

    columns: dict = field(default_factory=lambda: {"loss": [], "grad_norm": [], "grad_change": [], "lr": []})
    previous_grad: np.ndarray = None

    def record(self, loss, grad, lr, **extra):
        grad = np.asarray(grad, dtype=np.float64)
        norm = float(np.linalg.norm(grad))
        if self.previous_grad is None:
            change = math.nan
        else:
            base = float(np.linalg.norm(self.previous_grad))
            change = float(np.linalg.norm(grad - self.previous_grad)) / base if base > 0 else math.inf
        self.previous_grad = grad.copy()
        for name, value in dict(loss=loss, grad_norm=norm, grad_change=change, lr=lr, **extra).items():
            self.columns.setdefault(name, []).append(float(value))
        return norm

    def arrays(self):
        return {name: np.asarray(values, dtype=np.float64) for name, values in self.columns.items()}


def objective(backend, problem, theta, grad, n_threads):
    """``mean loss + alpha/2 ||w||^2`` at ``theta``; its gradient written into ``grad``."""
    d = problem.n_features
    w = theta[:d]
    kernel = getattr(backend, "logistic_loss_grad" if problem.loss == "log_loss" else "squared_loss_grad")
    loss, grad_b = kernel(problem.X, problem.y, w, float(theta[d]), problem.sample_weight, grad[:d], n_threads=n_threads)
    if problem.alpha:
        w64 = w.astype(np.float64)
        loss += 0.5 * problem.alpha * float(w64 @ w64)
        grad[:d] += problem.alpha * w
    grad[d] = grad_b if problem.fit_intercept else 0.0
    return loss


class StopRules:
    """Decides after each epoch whether training ends, and why."""

    def __init__(self, tol, n_iter_no_change):
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.first_loss = None
        self.best_loss, self.epochs_without_progress = math.inf, 0

    def diverged(self, loss):
        if not math.isfinite(loss):
            return True
        if self.first_loss is None:
            self.first_loss = loss
            return False
        return self.first_loss > 0 and loss > DIVERGENCE_FACTOR * self.first_loss

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


@contextmanager
def _progress(settings, n_epochs):
    """A tqdm bar with ``verbose >= 1`` (``None`` otherwise), closed however training ends."""
    if settings.verbose < 1:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=n_epochs, desc="fastgd fit", unit="epoch", leave=False)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def blas_held_to_one_thread(backend_name):
    """Hold BLAS to one thread while compiled kernels run (two thread pools on two cores fight).

    The NumPy backend computes with BLAS, so it keeps BLAS's own threads.
    """
    if get_backend(backend_name).name == "numpy":
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _report(bar, settings, epoch, history):
    last = {name: values[-1] for name, values in history.columns.items()}
    if bar is not None:
        bar.set_postfix(loss=f"{last['loss']:.6g}", grad_norm=f"{last['grad_norm']:.3g}", refresh=False)
        bar.update(1)
    if settings.verbose >= 2:
        print(f"epoch {epoch + 1}: loss {last['loss']:.8g}, grad_norm {last['grad_norm']:.4g}, lr {last['lr']:.4g}", flush=True)


def _warn_diverged(epoch):
    warnings.warn(
        f"Training diverged at epoch {epoch + 1} (the loss became non-finite or grew over "
        f"{DIVERGENCE_FACTOR:g} times its first value); the parameters from the start of that epoch "
        f"are kept. To fix it: {DIVERGENCE_ADVICE}.",
        RuntimeWarning,
        stacklevel=4,
    )


class _Snapshot:
    """A copy of the parameters and optimizer state (d-sized) to return to."""

    def __init__(self, theta, state):
        self.theta, self.state = theta.copy(), state.copy()

    def restore(self, theta, state):
        theta[...] = self.theta
        state[...] = self.state


def bind_optimizer_state(optimizer, theta):
    """A (3, d + 1) state matrix shared by ``optimizer`` (rows are its buffers) and the kernels.

    The optimizer's state for ``theta`` is kept (e.g. across ``partial_fit`` calls)
    or created (e.g. Adagrad's initial sum), then moved into the matrix.
    """
    state = optimizer.state
    reusable = state is not None and len(state) == 1 and all(
        b is None or b.shape == theta.shape for b in state[0].values()
    )
    if not reusable:
        optimizer.state = None
        optimizer.state = optimizer._state_for([theta])
    matrix = np.zeros((3, theta.shape[0]), dtype=theta.dtype)
    for row, buffer in enumerate(optimizer.state[0].values()):
        if buffer is not None:
            matrix[row] = buffer
    names = optimizer._buffer_names()
    optimizer.state = [{name: (matrix[row] if name in names else None) for row, name in enumerate(optimizer.buffers)}]
    return matrix


def train_first_order(problem, theta, optimizer, schedule, settings, validation=None):
    """Full-batch or mini-batch training with ``optimizer`` (an :mod:`fastgd.optim` object)."""
    backend = get_backend(settings.backend)
    rule = schedule if isinstance(schedule, sch.AdaptiveRule) else None
    if isinstance(schedule, sch.ArmijoLineSearch):
        return _train_armijo(problem, theta, optimizer, schedule, settings, backend)
    lr = rule.start() if rule is not None else None
    state = bind_optimizer_state(optimizer, theta)
    history, stops = History(), StopRules(settings.tol, settings.n_iter_no_change)
    rng = np.random.default_rng(settings.random_state)
    grad = np.empty(theta.shape[0], dtype=theta.dtype)
    reason, epoch, before_step = "max_iter", 0, None
    with _progress(settings, settings.max_iter) as bar:
        for epoch in range(settings.max_iter):
            optimizer.lr = lr if rule is not None else schedule(epoch)
            if settings.batch_size is None:  # the loss at theta_t; the step that led here is undone if need be
                loss = objective(backend, problem, theta, grad, settings.n_threads)
                restore_point = before_step
            else:
                restore_point = _Snapshot(theta, state)
                loss = _minibatch_epoch(backend, problem, theta, state, grad, optimizer, settings, rng)
            if stops.diverged(loss):
                if restore_point is not None:
                    restore_point.restore(theta, state)
                reason = "diverged"
                _warn_diverged(epoch)
                break
            extra = {} if validation is None else {"validation_loss": validation(theta)}
            grad_norm = history.record(loss, grad, optimizer.lr, **extra)
            _report(bar, settings, epoch, history)
            watched = extra.get("validation_loss", loss)
            decision = rule.observe(watched) if rule is not None else None
            reason_now = stops.after_epoch(watched, grad_norm, decision.at_floor if decision else True)
            if reason_now is not None:
                reason = reason_now
                break
            if decision is not None:
                lr = decision.lr
                if decision.undo and restore_point is not None:
                    restore_point.restore(theta, state)
                    continue
            if settings.batch_size is None:
                before_step = _Snapshot(theta, state)
                optimizer.step([theta], [grad])
        else:
            epoch = settings.max_iter - 1
    return Result(theta, history.arrays(), reason, epoch + 1)


def _minibatch_epoch(backend, problem, theta, state, grad_mean, optimizer, settings, rng):
    """One compiled epoch over a fresh permutation; the optimizer's step count advances."""
    name, hyper = optimizer._epoch_hyper()
    order = rng.permutation(problem.X.shape[0])
    clip_value = math.inf if optimizer.clip_value is None else float(optimizer.clip_value)
    clip_norm = math.inf if optimizer.clip_norm is None else float(optimizer.clip_norm)
    grad64 = np.empty(theta.shape[0], dtype=np.float64)
    loss, n_steps = backend.minibatch_epoch(
        problem.X, problem.y, problem.sample_weight, order, theta, state, grad64,
        loss=LOSS_CODES[problem.loss], optimizer=OPTIMIZER_CODES[name], hyper=np.asarray(hyper, dtype=np.float64),
        step=optimizer.step_count, batch_size=settings.batch_size, alpha=problem.alpha,
        fit_intercept=problem.fit_intercept, clip_value=clip_value, clip_norm=clip_norm, n_threads=settings.n_threads,
    )
    optimizer.step_count += n_steps
    grad_mean[...] = grad64
    return loss


def _train_armijo(problem, theta, optimizer, rule, settings, backend):
    """Full-batch gradient descent with a backtracking (Armijo) line search."""
    if settings.batch_size is not None:
        raise ValueError("ArmijoLineSearch needs full-batch training (batch_size=None)")
    history, stops = History(), StopRules(settings.tol, settings.n_iter_no_change)
    grad, trial_grad = np.empty_like(theta), np.empty_like(theta)
    loss, step = objective(backend, problem, theta, grad, settings.n_threads), rule.start()
    stops.diverged(loss)
    reason, epoch = "max_iter", 0
    with _progress(settings, settings.max_iter) as bar:
        for epoch in range(settings.max_iter):
            grad_norm = history.record(loss, grad, step)
            _report(bar, settings, epoch, history)
            reason_now = stops.after_epoch(loss, grad_norm)
            if reason_now is not None:
                reason = reason_now
                break
            grad_sq = grad_norm**2
            while True:
                trial = (theta - step * grad).astype(theta.dtype)
                with np.errstate(over="ignore", invalid="ignore"):
                    trial_loss = objective(backend, problem, trial, trial_grad, settings.n_threads)
                if math.isfinite(trial_loss) and rule.accepts(loss, trial_loss, grad_sq, step):
                    break
                step = rule.backtrack()
                if step is None:
                    break
            if step is None:
                reason = "stalled"
                break
            theta[...], grad[...], loss = trial, trial_grad, trial_loss
            optimizer.step_count += 1
            step = rule.observe(loss).lr
        else:
            epoch = settings.max_iter - 1
    return Result(theta, history.arrays(), reason, epoch + 1)


def train_lbfgs(problem, theta, settings):
    """SciPy's L-BFGS-B driven by the fused loss+gradient kernel."""
    from scipy.optimize import minimize

    backend = get_backend(settings.backend)
    grad = np.empty_like(theta)
    evaluated = {}

    def fun(x):
        theta[...] = x
        with np.errstate(over="ignore", invalid="ignore"):
            loss = objective(backend, problem, theta, grad, settings.n_threads)
        if not math.isfinite(loss):
            raise FloatingPointError("the objective is not finite")
        evaluated.update(x=x.copy(), loss=loss, grad=grad.astype(np.float64))
        return loss, evaluated["grad"]

    history = History()

    def callback(intermediate_result):
        x = intermediate_result.x
        if not np.array_equal(x, evaluated.get("x")):
            fun(x)
        history.record(evaluated["loss"], evaluated["grad"], math.nan)
        _report(bar, settings, len(history.columns["loss"]) - 1, history)

    pgtol = settings.tol / math.sqrt(theta.shape[0])
    ftol = 64 * np.finfo(theta.dtype).eps
    with _progress(settings, settings.max_iter) as bar:
        result = minimize(fun, theta.astype(np.float64), jac=True, method="L-BFGS-B", callback=callback,
                          options=dict(maxiter=settings.max_iter, gtol=pgtol, ftol=ftol, maxcor=20))
    theta[...] = result.x
    final_loss = objective(backend, problem, theta, grad, settings.n_threads)
    if not history.columns["loss"]:
        history.record(final_loss, grad, math.nan)
    grad_norm = float(np.linalg.norm(grad.astype(np.float64)))
    if grad_norm <= settings.tol:
        reason = "converged"
    elif result.nit >= settings.max_iter:
        reason = "max_iter"
    else:
        reason = "stalled"
    return Result(theta, history.arrays(), reason, max(int(result.nit), 1))
