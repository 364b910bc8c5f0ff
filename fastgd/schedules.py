"""Learning-rate schedules and adaptive rules.

The rate is fixed within an epoch.  A schedule is a pure function of the
epoch t (from 0) to the rate; an adaptive rule sees each epoch's loss and
returns the next rate.  Both are small picklable objects with readable reprs,
and their parameters are checked when set (ValueError when out of range).

Schedules, ``schedule(t) -> lr``:

* Constant -- lr
* StepDecay -- lr·γ^⌊t/step_size⌋ (PyTorch's StepLR)
* ExponentialDecay -- lr·γᵗ (PyTorch's ExponentialLR)
* CosineDecay -- η_min + (lr − η_min)·(1 + cos(π·min(t, t_max)/t_max))/2
  (PyTorch's CosineAnnealingLR, without restarts)
* InverseScaling -- lr/(t + 1)^power_t (scikit-learn's "invscaling", per epoch)
* Warmup -- a linear ramp from start_factor·s(0) to s(0) over warmup_epochs,
  then s(t − warmup_epochs), for any schedule s

Any callable ``epoch -> lr`` also serves; as_schedule turns a number into a
Constant.

Adaptive rules, ``rule.start()`` then ``rule.observe(loss) -> Decision``:

* ReduceLROnPlateau -- PyTorch's ReduceLROnPlateau (mode "min");
  scikit-learn's "adaptive" rate is ``ReduceLROnPlateau(lr, factor=0.2,
  patience=n_iter_no_change - 1, threshold=tol, threshold_mode="abs")``
* BoldDriver -- grow the rate while the loss falls; when it rises, cut the
  rate and undo the epoch
* ArmijoLineSearch -- backtracking line search for full-batch descent: the
  step t is accepted when f(w − t·g) ≤ f(w) − c·t·‖g‖²

>>> from fastgd.schedules import StepDecay, Warmup
>>> schedule = Warmup(StepDecay(0.1, step_size=2), warmup_epochs=2)
>>> [round(schedule(t), 4) for t in range(6)]
[0.01, 0.055, 0.1, 0.1, 0.01, 0.01]
"""

import inspect
import math
import numbers
from dataclasses import dataclass

from fastgd import _validation as v
from fastgd._docstrings import fill_doc

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


# The sections every override of these methods shares, written once: __init_subclass__
# puts them in place of the placeholder line ({rate}, {start}, {observe}) of each override's docstring.
_SHARED_SECTIONS = {
    "rate": """\
Parameters
----------
epoch : int
    The epoch, from 0.  Not checked here: calling the schedule,
    ``schedule(epoch)``, checks it (ValueError unless an int ≥ 0).

Returns
-------
float
    The learning rate of that epoch.

See Also
--------
as_schedule : Turns a number into a schedule; any callable epoch -> lr serves too.
ReduceLROnPlateau : A rate that follows the loss rather than the epoch.""",
    "start": """\
Returns
-------
float
    The rate of the first epoch.""",
    "observe": """\
Parameters
----------
loss : float
    The loss of the epoch just run.

Returns
-------
Decision
    The next epoch's rate, whether to undo the epoch just run, and whether
    the rate has reached its floor.""",
}


def _complete_docstrings(cls):
    """Put the shared sections in place in the docstrings of the methods ``cls`` defines."""
    for name in _SHARED_SECTIONS:
        function = cls.__dict__.get(name)
        if function is not None and function.__doc__:
            fill_doc(function, _SHARED_SECTIONS)


def _epoch(t):
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ValueError(f"the epoch must be an int >= 0, got {t!r}")
    return t


class Schedule:
    """Base of the pure schedules: ``schedule(epoch) -> learning rate``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _complete_docstrings(cls)

    def __call__(self, epoch):
        """The learning rate of ``epoch`` (an int ≥ 0, else ValueError)."""
        return self.rate(_epoch(epoch))

    def rate(self, epoch):
        """The learning rate of ``epoch``, unchecked."""
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
    """The same learning rate at every epoch.

    rate(t) = lr.  A plain number passed as a schedule becomes one (see
    as_schedule).

    Parameters
    ----------
    lr : float
        The rate, > 0 and finite.

    See Also
    --------
    as_schedule : Turns a number into a Constant.
    StepDecay, ExponentialDecay : Decaying rates.

    Examples
    --------
    >>> from fastgd.schedules import Constant
    >>> schedule = Constant(0.1)
    >>> schedule(0), schedule(100)
    (0.1, 0.1)
    """

    lr = v.Parameter(None, _RATE)

    def __init__(self, lr):
        self.lr = lr

    def rate(self, epoch):
        """The rate of ``epoch``: lr.

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import Constant
        >>> Constant(0.1).rate(7)
        0.1
        """
        return self.lr


class StepDecay(Schedule):
    """A rate cut by a factor every few epochs.

    rate(t) = lr·γ^⌊t/step_size⌋ with γ = gamma: PyTorch's
    torch.optim.lr_scheduler.StepLR (its step counted in epochs from 0).

    Parameters
    ----------
    lr : float
        The rate of the first step_size epochs, > 0.
    step_size : int
        The number of epochs between cuts, ≥ 1.
    gamma : float, default 0.1
        The factor γ > 0 of each cut.

    See Also
    --------
    torch.optim.lr_scheduler.StepLR : PyTorch's equivalent.
    ExponentialDecay : A cut at every epoch.

    Examples
    --------
    >>> from fastgd.schedules import StepDecay
    >>> schedule = StepDecay(1.0, step_size=2, gamma=0.5)
    >>> [schedule(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    lr = v.Parameter(None, _RATE)
    step_size = v.Parameter(None, _POSITIVE_COUNT)
    gamma = v.Parameter(0.1, _RATE)

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def rate(self, epoch):
        """The rate of ``epoch``: lr·γ^⌊epoch/step_size⌋.

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import StepDecay
        >>> StepDecay(1.0, step_size=2, gamma=0.5).rate(4)
        0.25
        """
        return self.lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """A rate multiplied by a constant factor at every epoch.

    rate(t) = lr·γᵗ with γ = gamma: PyTorch's
    torch.optim.lr_scheduler.ExponentialLR.

    Parameters
    ----------
    lr : float
        The rate of epoch 0, > 0.
    gamma : float
        The factor γ > 0 per epoch (below 1 to decay).

    See Also
    --------
    torch.optim.lr_scheduler.ExponentialLR : PyTorch's equivalent.
    StepDecay : A cut every step_size epochs.

    Examples
    --------
    >>> from fastgd.schedules import ExponentialDecay
    >>> schedule = ExponentialDecay(1.0, gamma=0.5)
    >>> [schedule(t) for t in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    lr = v.Parameter(None, _RATE)
    gamma = v.Parameter(None, _RATE)

    def __init__(self, lr, gamma):
        self.lr, self.gamma = lr, gamma

    def rate(self, epoch):
        """The rate of ``epoch``: lr·γ^epoch.

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import ExponentialDecay
        >>> ExponentialDecay(1.0, gamma=0.5).rate(3)
        0.125
        """
        return self.lr * self.gamma**epoch


class CosineDecay(Schedule):
    """A rate that falls from lr to eta_min along half a cosine, then stays.

    rate(t) = η_min + (lr − η_min)·(1 + cos(π·min(t, t_max)/t_max))/2 with
    η_min = eta_min: PyTorch's torch.optim.lr_scheduler.CosineAnnealingLR
    (in its closed form) up to t_max, then constant at eta_min instead of
    rising again.

    Parameters
    ----------
    lr : float
        The rate of epoch 0, > 0.
    t_max : int
        The epoch from which the rate is eta_min, ≥ 1.
    eta_min : float, default 0.0
        The final rate, ≥ 0.

    See Also
    --------
    torch.optim.lr_scheduler.CosineAnnealingLR : PyTorch's equivalent up to t_max.
    Warmup : A linear ramp to put in front.

    Examples
    --------
    >>> from fastgd.schedules import CosineDecay
    >>> schedule = CosineDecay(1.0, t_max=4)
    >>> [round(schedule(t), 4) for t in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    lr = v.Parameter(None, _RATE)
    t_max = v.Parameter(None, _POSITIVE_COUNT)
    eta_min = v.Parameter(0.0, _NON_NEGATIVE)

    def __init__(self, lr, t_max, eta_min=0.0):
        self.lr, self.t_max, self.eta_min = lr, t_max, eta_min

    def rate(self, epoch):
        """The rate of ``epoch``: η_min + (lr − η_min)·(1 + cos(π·min(epoch, t_max)/t_max))/2.

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import CosineDecay
        >>> schedule = CosineDecay(1.0, t_max=4, eta_min=0.1)
        >>> round(schedule.rate(2), 4), schedule.rate(10)
        (0.55, 0.1)
        """
        progress = min(epoch, self.t_max) / self.t_max
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class InverseScaling(Schedule):
    """A rate that falls as a power of the epoch.

    rate(t) = lr/(t + 1)^power_t: scikit-learn's "invscaling" learning rate
    (eta0 / t^power_t), counted in epochs rather than samples.

    Parameters
    ----------
    lr : float
        The rate of epoch 0, > 0.
    power_t : float, default 0.5
        The exponent, ≥ 0.

    See Also
    --------
    sklearn.linear_model.SGDClassifier : Its learning_rate="invscaling".
    ExponentialDecay : A faster, geometric decay.

    Examples
    --------
    >>> from fastgd.schedules import InverseScaling
    >>> schedule = InverseScaling(1.0, power_t=0.5)
    >>> [schedule(t) for t in (0, 3, 15)]
    [1.0, 0.5, 0.25]
    """

    lr = v.Parameter(None, _RATE)
    power_t = v.Parameter(0.5, _NON_NEGATIVE)

    def __init__(self, lr, power_t=0.5):
        self.lr, self.power_t = lr, power_t

    def rate(self, epoch):
        """The rate of ``epoch``: lr/(epoch + 1)^power_t.

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import InverseScaling
        >>> InverseScaling(1.0, power_t=0.5).rate(3)
        0.5
        """
        return self.lr / (epoch + 1) ** self.power_t


class Warmup(Schedule):
    """A linear warm-up in front of another schedule.

    With s the schedule, f = start_factor and w = warmup_epochs::

        rate(t) = s(0)·(f + (1 − f)·t/w)     for t < w
        rate(t) = s(t − w)                   afterwards

    The ramp is PyTorch's torch.optim.lr_scheduler.LinearLR (from f to 1)
    chained with the schedule by SequentialLR.

    Parameters
    ----------
    schedule : Schedule, callable or float
        The schedule that follows, any callable ``epoch -> lr``, or a
        constant rate (see as_schedule).
    warmup_epochs : int
        The length w of the ramp, ≥ 0 (0: no warm-up).
    start_factor : float, default 0.1
        The fraction f > 0 of s(0) at epoch 0.

    See Also
    --------
    torch.optim.lr_scheduler.LinearLR : PyTorch's linear ramp.
    CosineDecay : A schedule often warmed up.

    Examples
    --------
    >>> from fastgd.schedules import CosineDecay, Warmup
    >>> schedule = Warmup(CosineDecay(1.0, t_max=2), warmup_epochs=2, start_factor=0.5)
    >>> [schedule(t) for t in range(5)]
    [0.5, 0.75, 1.0, 0.5, 0.0]
    """

    warmup_epochs = v.Parameter(None, _COUNT)
    start_factor = v.Parameter(0.1, _RATE)

    def __init__(self, schedule, warmup_epochs, start_factor=0.1):
        self.schedule = as_schedule(schedule)
        self.warmup_epochs, self.start_factor = warmup_epochs, start_factor

    def rate(self, epoch):
        """The rate of ``epoch``: on the ramp to s(0), then s(epoch − warmup_epochs).

        {rate}

        Examples
        --------
        >>> from fastgd.schedules import StepDecay, Warmup
        >>> schedule = Warmup(StepDecay(1.0, step_size=1, gamma=0.5), warmup_epochs=2)
        >>> [round(schedule.rate(t), 4) for t in range(5)]
        [0.1, 0.55, 1.0, 0.5, 0.25]
        """
        if epoch >= self.warmup_epochs:
            return self.schedule(epoch - self.warmup_epochs)
        ramp = self.start_factor + (1 - self.start_factor) * epoch / self.warmup_epochs
        return self.schedule(0) * ramp


def as_schedule(value):
    """Turn what a user passes as a learning rate into a schedule.

    A number becomes a Constant; schedules, adaptive rules and any other
    callable ``epoch -> lr`` are returned as they are.

    Parameters
    ----------
    value : float, Schedule, AdaptiveRule or callable
        The learning rate, schedule or rule.

    Returns
    -------
    Schedule, AdaptiveRule or callable
        ``Constant(value)`` for a number, else ``value`` itself.

    Raises
    ------
    TypeError
        If ``value`` is none of these (a bool, a string, ...).

    See Also
    --------
    Constant : What a number becomes.

    Examples
    --------
    >>> from fastgd.schedules import as_schedule
    >>> as_schedule(0.1)
    Constant(lr=0.1)
    >>> as_schedule(lambda epoch: 0.1 / (epoch + 1))(1)
    0.05
    """
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
    """What an adaptive rule decided after an epoch: the next rate, and what to do.

    The training loop reads it after each epoch: it trains the next epoch at
    ``lr``, takes the epoch back when ``undo`` is set, and treats a stall as
    real only once ``at_floor`` is set.

    Parameters
    ----------
    lr : float
        The rate of the next epoch.
    undo : bool, default False
        Restore the parameters (and optimizer state) from before the epoch
        just run, whose loss is discarded.
    at_floor : bool, default False
        The rate cannot fall further, so a stall is real.

    See Also
    --------
    ReduceLROnPlateau, BoldDriver, ArmijoLineSearch : The rules that return one.

    Examples
    --------
    >>> from fastgd.schedules import BoldDriver
    >>> rule = BoldDriver(1.0, decrease=0.5)
    >>> rule.observe(2.0)
    Decision(lr=1.05, undo=False, at_floor=False)
    >>> rule.observe(3.0)
    Decision(lr=0.525, undo=True, at_floor=False)
    """

    lr: float
    undo: bool = False
    at_floor: bool = False


class AdaptiveRule:
    """Base of the rules that react to each epoch's loss."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _complete_docstrings(cls)

    def start(self):
        """Reset and return the first epoch's rate."""
        raise NotImplementedError

    def observe(self, loss):
        """See one epoch's loss; return a Decision."""
        raise NotImplementedError
    _parameters = Schedule._parameters
    __repr__ = Schedule.__repr__
    __eq__ = Schedule.__eq__


class ReduceLROnPlateau(AdaptiveRule):
    """Cut the rate when the loss stops improving.

    PyTorch's torch.optim.lr_scheduler.ReduceLROnPlateau in mode "min", with
    the same parameters and defaults.  An epoch improves on the best loss so
    far when::

        loss < best·(1 − threshold)     (threshold_mode "rel")
        loss < best − threshold         (threshold_mode "abs")

    After more than ``patience`` epochs in a row without improvement (the
    ``cooldown`` epochs after a cut do not count), the rate becomes
    max(rate·factor, min_lr), unless that changes it by eps or less.  The
    decision is ``at_floor`` once a cut would no longer change the rate.
    scikit-learn's "adaptive" rate is ``ReduceLROnPlateau(lr, factor=0.2,
    patience=n_iter_no_change - 1, threshold=tol, threshold_mode="abs")``.

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    factor : float, default 0.1
        The factor of each cut, in (0, 1).
    patience : int, default 10
        The number of epochs without improvement tolerated, ≥ 0.
    threshold : float, default 1e-4
        The least improvement that counts, ≥ 0 (relative or absolute).
    threshold_mode : {"rel", "abs"}, default "rel"
        Whether ``threshold`` is relative to the best loss or absolute.
    cooldown : int, default 0
        Epochs after a cut during which no bad epoch is counted, ≥ 0.
    min_lr : float, default 0.0
        The floor of the rate, ≥ 0.
    eps : float, default 1e-8
        The smallest change of the rate made, ≥ 0.

    See Also
    --------
    torch.optim.lr_scheduler.ReduceLROnPlateau : PyTorch's equivalent.
    BoldDriver : Also grows the rate, and undoes bad epochs.

    Examples
    --------
    >>> from fastgd.schedules import ReduceLROnPlateau
    >>> rule = ReduceLROnPlateau(1.0, factor=0.5, patience=1)
    >>> rule.start()
    1.0
    >>> [rule.observe(loss).lr for loss in (3.0, 2.0, 2.0, 2.0, 2.0)]
    [1.0, 1.0, 1.0, 0.5, 0.5]
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
        """Reset the best loss and the counters; the first epoch runs at lr.

        {start}

        See Also
        --------
        ReduceLROnPlateau.observe : The rate of each later epoch.

        Examples
        --------
        >>> from fastgd.schedules import ReduceLROnPlateau
        >>> rule = ReduceLROnPlateau(1.0, factor=0.5, patience=0)
        >>> rule.observe(2.0).lr, rule.observe(2.0).lr
        (1.0, 0.5)
        >>> rule.start()
        1.0
        """
        self.current, self.best, self.bad_epochs, self.cooldown_left = self.lr, math.inf, 0, 0
        return self.current

    def _improves(self, loss):
        if self.threshold_mode == "rel":
            return loss < self.best * (1 - self.threshold)
        return loss < self.best - self.threshold

    def observe(self, loss):
        """Count the epoch as an improvement or not; cut the rate after too many bad ones.

        {observe}

        See Also
        --------
        ReduceLROnPlateau.start : Reset the rule before a fit.
        Decision : What it returns.

        Examples
        --------
        With a floor of 0.5, the first cut reaches it:

        >>> from fastgd.schedules import ReduceLROnPlateau
        >>> rule = ReduceLROnPlateau(1.0, factor=0.5, patience=0, min_lr=0.5)
        >>> rule.observe(2.0)
        Decision(lr=1.0, undo=False, at_floor=False)
        >>> rule.observe(2.0)
        Decision(lr=0.5, undo=False, at_floor=True)
        """
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
    """Grow the rate while the loss falls; when it rises, cut it and undo the epoch.

    The "bold driver" heuristic.  After each epoch::

        loss ≤ previous loss:   rate ← min(rate·increase, max_lr)
        loss > previous loss:   rate ← max(rate·decrease, min_lr), and the epoch is undone

    An undone epoch's loss is forgotten: the next one is compared with the
    last kept loss.  The decision is ``at_floor`` once the rate is min_lr.

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    increase : float, default 1.05
        The factor ≥ 1 applied after a good epoch.
    decrease : float, default 0.5
        The factor in (0, 1) applied after a bad epoch.
    min_lr : float, default 1e-10
        The floor of the rate, > 0.
    max_lr : float, default 1e3
        The ceiling of the rate, > 0.

    See Also
    --------
    ReduceLROnPlateau : Cuts only, after a plateau, and never undoes.
    ArmijoLineSearch : A rate that guarantees decrease, for full-batch steps.

    Examples
    --------
    >>> from fastgd.schedules import BoldDriver
    >>> rule = BoldDriver(1.0, increase=2.0, decrease=0.25)
    >>> rule.start()
    1.0
    >>> [rule.observe(loss) for loss in (2.0, 3.0)]
    [Decision(lr=2.0, undo=False, at_floor=False), Decision(lr=0.5, undo=True, at_floor=False)]
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
        """Forget the last loss; the first epoch runs at lr.

        {start}

        See Also
        --------
        BoldDriver.observe : The rate of each later epoch.

        Examples
        --------
        >>> from fastgd.schedules import BoldDriver
        >>> rule = BoldDriver(1.0, increase=2.0)
        >>> rule.observe(1.0).lr
        2.0
        >>> rule.start()
        1.0
        """
        self.current, self.previous_loss = self.lr, math.inf
        return self.current

    def observe(self, loss):
        """Grow the rate after a loss no higher than the last kept one, else cut it and undo the epoch.

        {observe}

        See Also
        --------
        BoldDriver.start : Reset the rule before a fit.
        Decision : What it returns.

        Examples
        --------
        An undone epoch's loss is forgotten: 5.0 is compared with 3.0.

        >>> from fastgd.schedules import BoldDriver
        >>> rule = BoldDriver(1.0, increase=2.0, decrease=0.5, min_lr=0.5)
        >>> rule.observe(3.0)
        Decision(lr=2.0, undo=False, at_floor=False)
        >>> rule.observe(4.0)
        Decision(lr=1.0, undo=True, at_floor=False)
        >>> rule.observe(5.0)
        Decision(lr=0.5, undo=True, at_floor=True)
        """
        if loss <= self.previous_loss:
            self.previous_loss = loss
            self.current = min(self.current * self.increase, self.max_lr)
            return Decision(self.current)
        self.current = max(self.current * self.decrease, self.min_lr)
        return Decision(self.current, undo=True, at_floor=self.current <= self.min_lr)


class ArmijoLineSearch(AdaptiveRule):
    """Backtracking line search for full-batch gradient descent.

    Each step starts from a trial step t (lr at first, then the last
    accepted step times ``grow``) and accepts it on the Armijo condition::

        f(w − t·g) ≤ f(w) − c·t·‖g‖²

    else shrinks t ← t·shrink and tries again.  The training loop asks
    ``accepts`` and ``backtrack``; the rule is meant for plain gradient
    steps (SGD without momentum).  A search gives up (and the fit stops as
    "stalled") after ``max_backtracks`` shrinks or once the step falls below
    ``min_lr``.

    Parameters
    ----------
    lr : float, default 1.0
        The first trial step, > 0.
    c : float, default 1e-4
        The fraction of the decrease predicted by the gradient that a step
        must achieve, in (0, 1).
    shrink : float, default 0.5
        The factor of each backtrack, in (0, 1).
    grow : float, default 2.0
        The factor from an accepted step to the next trial step, > 0.
    min_lr : float, default 1e-12
        The smallest step tried, > 0.
    max_backtracks : int, default 50
        The most shrinks in one search, ≥ 1.

    See Also
    --------
    scipy.optimize.line_search : A line search for the strong Wolfe conditions.
    fastgd.optim.SGD : The optimizer it steers (without momentum).

    Examples
    --------
    On f(w) = w², from w = 1 (gradient 2): the step 1.0 overshoots to
    w = −1, 0.5 lands on the minimum.

    >>> from fastgd.schedules import ArmijoLineSearch
    >>> rule = ArmijoLineSearch()
    >>> step = rule.start()
    >>> rule.accepts(1.0, (1 - step * 2) ** 2, 4.0, step)
    False
    >>> step = rule.backtrack()
    >>> step, rule.accepts(1.0, (1 - step * 2) ** 2, 4.0, step)
    (0.5, True)
    >>> rule.observe(0.0)
    Decision(lr=1.0, undo=False, at_floor=False)
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
        """Reset the search; the first trial step is lr.

        {start}

        See Also
        --------
        ArmijoLineSearch.accepts : Whether a trial step is accepted.
        ArmijoLineSearch.backtrack : The next trial step after a rejected one.

        Examples
        --------
        >>> from fastgd.schedules import ArmijoLineSearch
        >>> rule = ArmijoLineSearch(lr=1.0)
        >>> rule.backtrack()
        0.5
        >>> rule.start()
        1.0
        """
        self.current, self.backtracks = self.lr, 0
        return self.current

    def accepts(self, loss_before, loss_after, grad_norm_sq, step):
        """Whether a trial step satisfies the Armijo condition f(w − t·g) ≤ f(w) − c·t·‖g‖².

        Parameters
        ----------
        loss_before : float
            The loss before the step, f(w).
        loss_after : float
            The loss after it, f(w − t·g).
        grad_norm_sq : float
            The squared norm ‖g‖² of the gradient at w.
        step : float
            The step t.

        Returns
        -------
        bool
            True if the step decreases the loss enough to be accepted.

        See Also
        --------
        ArmijoLineSearch.backtrack : The next trial step after a rejected one.
        ArmijoLineSearch.observe : The first trial step of the next search.

        Examples
        --------
        On f(w) = w² from w = 1, where f(w) = 1 and g = 2 (‖g‖² = 4):

        >>> from fastgd.schedules import ArmijoLineSearch
        >>> rule = ArmijoLineSearch(c=0.1)
        >>> rule.accepts(1.0, (1 - 0.25 * 2) ** 2, 4.0, 0.25)
        True
        >>> rule.accepts(1.0, (1 - 1.0 * 2) ** 2, 4.0, 1.0)
        False
        """
        return loss_after <= loss_before - self.c * step * grad_norm_sq

    def backtrack(self):
        """Shrink the trial step after a rejected one: t ← t·shrink.

        Returns
        -------
        float or None
            The next trial step, or None when the search gives up: the step
            fell below ``min_lr`` or this was shrink number
            ``max_backtracks`` + 1 of the search.

        See Also
        --------
        ArmijoLineSearch.accepts : Whether a trial step is accepted.
        ArmijoLineSearch.start : Reset the search.

        Examples
        --------
        >>> from fastgd.schedules import ArmijoLineSearch
        >>> rule = ArmijoLineSearch(lr=1.0, shrink=0.5, max_backtracks=2)
        >>> rule.backtrack(), rule.backtrack(), rule.backtrack()
        (0.5, 0.25, None)
        """
        self.current *= self.shrink
        self.backtracks += 1
        return self.current if self.current >= self.min_lr and self.backtracks <= self.max_backtracks else None

    def observe(self, loss):
        """After an accepted step, start the next search from a larger one: t ← t·grow.

        {observe}

        See Also
        --------
        ArmijoLineSearch.accepts : Whether a trial step is accepted.
        Decision : What it returns.

        Examples
        --------
        >>> from fastgd.schedules import ArmijoLineSearch
        >>> rule = ArmijoLineSearch(lr=1.0, grow=2.0)
        >>> rule.backtrack()
        0.5
        >>> rule.observe(0.0)  # the step 0.5 was accepted
        Decision(lr=1.0, undo=False, at_floor=False)
        """
        self.current, self.backtracks = self.current * self.grow, 0
        return Decision(self.current)
