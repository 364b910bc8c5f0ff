"""Learning-rate schedules and adaptive rules.

The rate is fixed within an epoch.  A *schedule* is a pure function of the
epoch ``t`` (from 0) to the rate; an *adaptive rule* sees each epoch's loss and
returns the next rate.  Both are small picklable objects with readable reprs.

Schedules (``schedule(t) -> lr``):

* :class:`Constant` -- ``lr``
* :class:`StepDecay` -- ``lr * gamma ** floor(t / step_size)``
* :class:`ExponentialDecay` -- ``lr * gamma ** t``
* :class:`CosineDecay` -- ``eta_min + (lr - eta_min) (1 + cos(pi min(t, t_max) / t_max)) / 2``
* :class:`InverseScaling` -- ``lr / (t + 1) ** power_t`` (scikit-learn's ``invscaling``, per epoch)
* :class:`Warmup` -- a linear ramp from ``start_factor * s(0)`` to ``s(0)`` over
  ``warmup_epochs``, then ``s(t - warmup_epochs)`` for any schedule ``s``

Adaptive rules (``rule.start()`` then ``rule.observe(loss) -> Decision``):

* :class:`ReduceLROnPlateau` -- PyTorch's ``ReduceLROnPlateau`` (mode ``"min"``);
  scikit-learn's ``adaptive`` rate is ``ReduceLROnPlateau(lr, factor=0.2,
  patience=n_iter_no_change - 1, threshold=tol, threshold_mode="abs")``
* :class:`BoldDriver` -- grow the rate while the loss falls; when it rises, cut
  the rate and undo the epoch
* :class:`ArmijoLineSearch` -- backtracking line search for full-batch descent:
  the step ``t`` is accepted when ``f(w - t g) <= f(w) - c t ||g||^2``
"""

import inspect
import math
import numbers
from dataclasses import dataclass

from fastgd import _validation as v

__all__ = [
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "InverseScaling",
    "Warmup",
    "ReduceLROnPlateau",
    "BoldDriver",
    "ArmijoLineSearch",
    "Decision",
    "as_schedule",
]


_RATE = v.Interval(numbers.Real, 0, None, closed="neither")  # a positive, finite number
_NON_NEGATIVE = v.NON_NEGATIVE
_FRACTION = v.Interval(numbers.Real, 0, 1, closed="neither")
_COUNT = v.Interval(numbers.Integral, 0, None, closed="left")
_POSITIVE_COUNT = v.Interval(numbers.Integral, 1, None, closed="left")


def _epoch(t):
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ValueError(f"the epoch must be an int >= 0, got {t!r}")
    return t


class Schedule:
    """Base of the pure schedules: ``schedule(epoch) -> learning rate``."""

    def __call__(self, epoch):
        return self.rate(_epoch(epoch))

    def rate(self, epoch):
        raise NotImplementedError

    def _parameters(self):
        names = [name for name in inspect.signature(type(self).__init__).parameters if name != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self._parameters().items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other):
        return type(self) is type(other) and self._parameters() == other._parameters()


class Constant(Schedule):
    """``lr`` at every epoch."""

    lr = v.Parameter(None, _RATE)

    def __init__(self, lr):
        self.lr = lr

    def rate(self, epoch):
        return self.lr


class StepDecay(Schedule):
    """``lr * gamma ** floor(epoch / step_size)`` (PyTorch's ``StepLR``)."""

    lr = v.Parameter(None, _RATE)
    step_size = v.Parameter(None, _POSITIVE_COUNT)
    gamma = v.Parameter(0.1, _RATE)

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def rate(self, epoch):
        return self.lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """``lr * gamma ** epoch`` (PyTorch's ``ExponentialLR``)."""

    lr = v.Parameter(None, _RATE)
    gamma = v.Parameter(None, _RATE)

    def __init__(self, lr, gamma):
        self.lr, self.gamma = lr, gamma

    def rate(self, epoch):
        return self.lr * self.gamma**epoch


class CosineDecay(Schedule):
    """``eta_min + (lr - eta_min) (1 + cos(pi min(epoch, t_max) / t_max)) / 2``."""

    lr = v.Parameter(None, _RATE)
    t_max = v.Parameter(None, _POSITIVE_COUNT)
    eta_min = v.Parameter(0.0, _NON_NEGATIVE)

    def __init__(self, lr, t_max, eta_min=0.0):
        self.lr, self.t_max, self.eta_min = lr, t_max, eta_min

    def rate(self, epoch):
        progress = min(epoch, self.t_max) / self.t_max
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class InverseScaling(Schedule):
    """``lr / (epoch + 1) ** power_t`` (scikit-learn's ``invscaling``, counted in epochs)."""

    lr = v.Parameter(None, _RATE)
    power_t = v.Parameter(0.5, _NON_NEGATIVE)

    def __init__(self, lr, power_t=0.5):
        self.lr, self.power_t = lr, power_t

    def rate(self, epoch):
        return self.lr / (epoch + 1) ** self.power_t


class Warmup(Schedule):
    """Linear warm-up in front of ``schedule``.

    For ``epoch < warmup_epochs``: ``s(0) * (f + (1 - f) epoch / warmup_epochs)``
    with ``f = start_factor``; afterwards ``s(epoch - warmup_epochs)``.
    """

    warmup_epochs = v.Parameter(None, _COUNT)
    start_factor = v.Parameter(0.1, _RATE)

    def __init__(self, schedule, warmup_epochs, start_factor=0.1):
        self.schedule = as_schedule(schedule)
        self.warmup_epochs, self.start_factor = warmup_epochs, start_factor

    def rate(self, epoch):
        if epoch >= self.warmup_epochs:
            return self.schedule(epoch - self.warmup_epochs)
        ramp = self.start_factor + (1 - self.start_factor) * epoch / self.warmup_epochs
        return self.schedule(0) * ramp


def as_schedule(value):
    """A schedule from a rate (``Constant``) or a callable ``epoch -> lr``."""
    if isinstance(value, (Schedule, AdaptiveRule)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Constant(value)
    if callable(value):
        return value
    raise TypeError(f"a schedule must be a learning rate, a callable epoch -> lr or an adaptive rule, got {value!r}")


# ---- adaptive rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What an adaptive rule decided after an epoch.

    ``lr``: the rate for the next epoch; ``undo``: restore the parameters from
    before the epoch just run (its loss is discarded); ``at_floor``: the rate
    cannot fall further, so a stall is real.
    """

    lr: float
    undo: bool = False
    at_floor: bool = False


class AdaptiveRule:
    """Base of the rules that react to each epoch's loss."""

    def start(self):
        """Reset and return the first epoch's rate."""
        raise NotImplementedError

    def observe(self, loss):
        """See one epoch's loss; return a :class:`Decision`."""
        raise NotImplementedError

    _parameters = Schedule._parameters
    __repr__ = Schedule.__repr__
    __eq__ = Schedule.__eq__


class ReduceLROnPlateau(AdaptiveRule):
    """PyTorch's ``ReduceLROnPlateau`` in mode ``"min"``.

    An epoch improves when ``loss < best (1 - threshold)`` (``"rel"``) or
    ``loss < best - threshold`` (``"abs"``).  After more than ``patience``
    epochs without improvement (and outside ``cooldown``), the rate becomes
    ``max(lr * factor, min_lr)`` (ignored if the change is below ``eps``).
    """

    lr = v.Parameter(None, _RATE)
    factor = v.Parameter(0.1, _FRACTION)
    patience = v.Parameter(10, _COUNT)
    threshold = v.Parameter(1e-4, _NON_NEGATIVE)
    threshold_mode = v.Parameter("rel", v.Options("rel", "abs"))
    cooldown = v.Parameter(0, _COUNT)
    min_lr = v.Parameter(0.0, _NON_NEGATIVE)
    eps = v.Parameter(1e-8, _NON_NEGATIVE)

    def __init__(self, lr, factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.factor, self.patience, self.threshold = lr, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.min_lr, self.eps = threshold_mode, cooldown, min_lr, eps
        self.start()

    def start(self):
        self.current, self.best, self.bad_epochs, self.cooldown_left = self.lr, math.inf, 0, 0
        return self.current

    def _improves(self, loss):
        if self.threshold_mode == "rel":
            return loss < self.best * (1 - self.threshold)
        return loss < self.best - self.threshold

    def observe(self, loss):
        if self._improves(loss):
            self.best, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            reduced = max(self.current * self.factor, self.min_lr)
            if self.current - reduced > self.eps:
                self.current = reduced
            self.cooldown_left, self.bad_epochs = self.cooldown, 0
        floor = self.current - max(self.current * self.factor, self.min_lr) <= self.eps
        return Decision(self.current, at_floor=floor)


class BoldDriver(AdaptiveRule):
    """Grow the rate by ``increase`` while the loss falls; when it rises, multiply
    the rate by ``decrease`` and undo the epoch.  The rate stays in ``[min_lr, max_lr]``.
    """

    lr = v.Parameter(None, _RATE)
    increase = v.Parameter(1.05, v.Interval(numbers.Real, 1, None, closed="left"))
    decrease = v.Parameter(0.5, _FRACTION)
    min_lr = v.Parameter(1e-10, _RATE)
    max_lr = v.Parameter(1e3, _RATE)

    def __init__(self, lr, increase=1.05, decrease=0.5, min_lr=1e-10, max_lr=1e3):
        self.lr, self.increase, self.decrease, self.min_lr, self.max_lr = lr, increase, decrease, min_lr, max_lr
        self.start()

    def start(self):
        self.current, self.previous_loss = self.lr, math.inf
        return self.current

    def observe(self, loss):
        if loss <= self.previous_loss:
            self.previous_loss = loss
            self.current = min(self.current * self.increase, self.max_lr)
            return Decision(self.current)
        self.current = max(self.current * self.decrease, self.min_lr)
        return Decision(self.current, undo=True, at_floor=self.current <= self.min_lr)


class ArmijoLineSearch(AdaptiveRule):
    """Backtracking line search for full-batch gradient descent.

    From the trial step ``t`` (starting at ``lr``, then the last accepted step
    times ``grow``), accept when ``f(w - t g) <= f(w) - c t ||g||^2``, else
    shrink ``t <- t * shrink`` and try again.  The training loop asks
    :meth:`accepts` and :meth:`backtrack`; it is meant for plain gradient
    steps (the SGD optimizer without momentum).  A search gives up (and the
    fit stops as ``stalled``) after ``max_backtracks`` shrinks or once the
    step falls below ``min_lr``.
    """

    lr = v.Parameter(1.0, _RATE)
    c = v.Parameter(1e-4, _FRACTION)
    shrink = v.Parameter(0.5, _FRACTION)
    grow = v.Parameter(2.0, _RATE)
    min_lr = v.Parameter(1e-12, _RATE)
    max_backtracks = v.Parameter(50, _POSITIVE_COUNT)

    def __init__(self, lr=1.0, c=1e-4, shrink=0.5, grow=2.0, min_lr=1e-12, max_backtracks=50):
        self.lr, self.c, self.shrink, self.grow, self.min_lr, self.max_backtracks = lr, c, shrink, grow, min_lr, max_backtracks
        self.start()

    def start(self):
        self.current, self.backtracks = self.lr, 0
        return self.current

    def accepts(self, loss_before, loss_after, grad_norm_sq, step):
        """The Armijo condition ``f(w - t g) <= f(w) - c t ||g||^2``."""
        return loss_after <= loss_before - self.c * step * grad_norm_sq

    def backtrack(self):
        """Shrink the trial step; return it (``None`` once below ``min_lr`` or after
        ``max_backtracks`` shrinks in one search)."""
        self.current *= self.shrink
        self.backtracks += 1
        return self.current if self.current >= self.min_lr and self.backtracks <= self.max_backtracks else None

    def observe(self, loss):
        """After an accepted step: try a larger one next time."""
        self.current, self.backtracks = self.current * self.grow, 0
        return Decision(self.current)
