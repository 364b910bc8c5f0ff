"""Optimizers with PyTorch's update rules, defaults and state names, fused and compiled.

Each optimizer updates one float array, or a list of them, in place from
gradients of the same shapes and dtype, and returns the raw gradient's
global norm:

>>> import numpy as np
>>> from fastgd.optim import Adam
>>> w = np.zeros(3)
>>> opt = Adam(lr=0.1, clip_norm=1.0)
>>> round(opt.step(w, np.array([1.0, -2.0, 0.5])), 4)
2.2913
>>> w
array([-0.1,  0.1, -0.1])

Every step first prepares the gradient g elementwise, in this order (as
PyTorch's ``clip_grad_value_``, ``clip_grad_norm_`` and ``weight_decay`` do):

1. clip by value: g ← clamp(g, −clip_value, clip_value);
2. clip by global norm: g ← g·min(1, clip_norm/(‖g‖ + 1e-6)), the norm taken
   over all arrays together;
3. L2 weight decay: g ← g + weight_decay·p (decoupled decay, as AdamW's,
   shrinks p ← p·(1 − lr·weight_decay) instead).

The optimizer's rule then updates its state buffers and p in one fused pass.
``last_grad_norm`` is the raw gradient's global norm (before clipping).  By
default (``check_finite=True``) a non-finite gradient raises ValueError and
leaves parameters and state untouched; ``check_finite=False`` without
``clip_norm`` makes each step a single pass over memory (PyTorch's behaviour:
a NaN gradient then propagates).  Hyper-parameters are attributes, checked
when set, and may be changed between steps (learning-rate schedules do this).
``state_dict()`` and ``load_state_dict()`` round-trip through pickle.

Optimizers: SGD, Adagrad, RMSprop, Adam, AdamW, NAdam, Adamax; Optimizer is
their base class.

Each optimizer is one declaration: its hyper-parameters (Hyper: name,
PyTorch's default, the allowed values, the kernel slots it fills), its state
buffers (Buffer: name, the setting that needs it, its initial value), its
scalar state and its kernel ``code``.  The constructor, the checks,
``state_dict`` and both uses of the update -- Optimizer.step on the caller's
arrays and the compiled training epochs -- derive from it; each backend
implements the rule once, behind its ``optimizer_update`` kernel.
"""

import inspect
import math
import numbers

import numpy as np

from fastgd import _validation as v
from fastgd._docstrings import fill_doc
from fastgd.backends import BACKEND_ORDER, raw_kernels

# The base class last: the concrete optimizers come first in listings (and their methods are named after them).
__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "Adamax", "Optimizer"]

NORM_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_
_UNIT = v.Interval(numbers.Real, 0, 1, closed="left")

# The descriptions every optimizer shares, written once: __init_subclass__ puts
# them in place of their placeholder lines in each optimizer's docstring.
_SHARED_DOCS = {
    "lr": """\
lr : float, default {default}
    The learning rate, ≥ 0.""",
    "momentum": """\
momentum : float, default {default}
    The momentum factor μ ≥ 0; 0 turns momentum off.""",
    "l2_weight_decay": """\
weight_decay : float, default {default}
    L2 penalty, ≥ 0: g ← g + weight_decay·p.""",
    "betas": """\
betas : tuple of (float, float), default {default}
    (β₁, β₂), the decay rates of the first and second moments, each in
    [0, 1).""",
    "optimizer_options": """\
clip_value : float or None, default None
    Clamp each gradient entry to [−clip_value, clip_value] first, as
    ``torch.nn.utils.clip_grad_value_`` (keyword-only, like the options below).
    None: no clamp.
clip_norm : float or None, default None
    Then rescale the gradient to a global norm (over all parameter arrays
    together) of at most clip_norm: g ← g·min(1, clip_norm/(‖g‖ + 1e-6)), as
    ``torch.nn.utils.clip_grad_norm_``.  None: no rescaling.
check_finite : bool, default True
    Refuse a gradient holding NaN or infinity: ``step`` raises ValueError
    before anything is written.  False (without clip_norm) makes each step a
    single fused pass over memory, as PyTorch's fused optimizers; a NaN
    gradient then propagates into the parameters, as in PyTorch.
backend : {"cython", "numba", "numpy"} or None, default None
    The kernels that run the update; None: the current default backend (see
    fastgd.get_backend).  They agree to rounding.
n_threads : int or None, default None
    Threads for large arrays; None: every core the process may use.  Results
    are deterministic for a given n_threads.""",
    "optimizer_attributes": """\
Attributes
----------
step_count : int
    Steps taken since construction or ``reset_state()`` (PyTorch's "step").
last_grad_norm : float or None
    The raw gradient's global norm at the last step, before any clipping
    (None before the first step).
state : list of dict or None
    Per parameter array, {buffer name: array shaped like it}, with PyTorch's
    buffer names; None before the first step.
hyperparameters : tuple of str
    The hyper-parameters' names, in signature order.  Each one, and each
    option, is an attribute that may be changed between steps.""",
    "optimizer_raises": """\
Raises
------
ValueError
    If a setting is outside its range, at construction or when assigned
    later (fastgd's InvalidParameterError, also a TypeError).""",
}


class Hyper(v.Parameter):
    """A declared hyper-parameter: its default, its constraints and the kernel slots it fills.

    ``slots`` names the entries of the packed ``hyper`` vector the kernels read
    (a pair such as ``betas`` fills two; ``()`` for a setting the kernels do not
    read, such as Adagrad's ``initial_accumulator_value``).
    """

    def __init__(self, default, *constraints, slots=None):
        super().__init__(default, *constraints)
        self.slots = slots

    def __set_name__(self, owner, name):
        super().__set_name__(owner, name)
        if self.slots is None:
            self.slots = (name,)


class Buffer:
    """A declared state buffer, shaped like its parameter array.

    ``when`` names the hyper-parameter whose truth makes the buffer exist
    (``None``: always); ``initial`` names the one holding its initial value
    (``None``: zeros).
    """

    def __init__(self, name, *, when=None, initial=None):
        self.name, self.when, self.initial = name, when, initial


def _as_list(arrays, name):
    if isinstance(arrays, np.ndarray):
        return [arrays]
    if isinstance(arrays, (list, tuple)) and arrays:
        return list(arrays)
    raise TypeError(f"{name} must be an array or a non-empty list of arrays")


def _check_params(params):
    params = _as_list(params, "params")
    for k, p in enumerate(params):
        if type(p) is not np.ndarray or p.dtype not in v.FLOAT_DTYPES:
            raise TypeError(f"params[{k}] must be a float32 or float64 numpy.ndarray, got {type(p).__name__}"
                            f"{'' if not hasattr(p, 'dtype') else ' of dtype ' + str(p.dtype)}")
        if not (p.flags.c_contiguous and p.flags.writeable):
            raise ValueError(f"params[{k}] must be C-contiguous and writeable (it is updated in place)")
    return params


def _check_grads(grads, params):
    grads = _as_list(grads, "grads")
    if len(grads) != len(params):
        raise ValueError(f"got {len(grads)} gradient arrays for {len(params)} parameter arrays")
    checked = []
    for k, (g, p) in enumerate(zip(grads, params)):
        g = np.asarray(g)
        if g.shape != p.shape or g.dtype != p.dtype:
            raise ValueError(f"grads[{k}] has shape {g.shape} and dtype {g.dtype}; params[{k}] has {p.shape} and {p.dtype}")
        checked.append(np.ascontiguousarray(g).reshape(-1))
    return checked


def _check_indices(indices, n_arrays):
    """The set of parameter-array indices in ``no_weight_decay``."""
    if isinstance(indices, (str, bytes)) or not hasattr(indices, "__iter__"):
        raise TypeError(f"no_weight_decay must be a collection of parameter indices, got {indices!r}")
    checked = set()
    for k in indices:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"no_weight_decay must hold int indices, got {k!r}")
        if not 0 <= k < n_arrays:
            raise ValueError(f"no_weight_decay holds {k}, but there are {n_arrays} parameter arrays")
        checked.add(int(k))
    return checked


def _global_norm_of_finite(grads):
    """Overflow-safe global norm for finite gradients whose squares overflowed."""
    largest = max(float(np.max(np.abs(g), initial=0.0)) for g in grads)
    return largest * math.sqrt(sum(float(np.sum(np.square(g / largest, dtype=np.float64))) for g in grads))


class Optimizer:
    """Base class of the optimizers: construction, checks, the step, the state, ``state_dict``.

    A subclass is a declaration: its ``Hyper`` hyper-parameters (their order
    is the signature's), its ``Buffer`` state buffers, its ``scalars`` and
    its kernel ``code``.  From it the class gets its signature (the
    hyper-parameters, then the keyword-only options clip_value, clip_norm,
    check_finite, backend and n_threads), its checks and its ``state_dict``;
    every backend implements the rule behind ``code`` once.  Use the
    concrete optimizers (SGD, Adagrad, RMSprop, Adam, AdamW, NAdam, Adamax);
    this class is for ``isinstance`` checks and new declarations.

    Parameters
    ----------
    *args : object
        The hyper-parameters of a subclass, in the order of its signature.
    **kwargs : object
        Its hyper-parameters and options by name.

    See Also
    --------
    SGD, Adam : Two of the concrete optimizers.
    torch.optim.Optimizer : PyTorch's base class, whose step conventions these follow.

    Examples
    --------
    >>> from fastgd.optim import Adam, Optimizer
    >>> isinstance(Adam(), Optimizer)
    True
    >>> Adam.hyperparameters
    ('lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'decoupled_weight_decay')
    """

    code = None  # the kernel code of the rule
    buffers = ()  # Buffer declarations, in the order of the kernel's state rows
    scalars = {}  # scalar state: name -> initial value, in the kernel's order

    clip_value = v.Parameter(None, None, v.POSITIVE)
    clip_norm = v.Parameter(None, None, v.POSITIVE)
    check_finite = v.Parameter(True, v.Boolean())
    backend = v.Parameter(None, None, v.Options(*BACKEND_ORDER))
    n_threads = v.Parameter(None, None, v.Interval(numbers.Integral, 1, 2**31 - 1, closed="both"))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        hypers = [p for p in v.declared_parameters(cls).values() if isinstance(p, Hyper)]
        options = [p for p in v.declared_parameters(cls).values() if not isinstance(p, Hyper)]
        cls._hypers = tuple(hypers)
        cls.hyperparameters = tuple(h.name for h in hypers)
        cls.kernel_slots = tuple(slot for h in hypers for slot in h.slots)
        parameters = [inspect.Parameter(h.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=h.default) for h in hypers]
        parameters += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default) for o in options]
        cls.__signature__ = inspect.Signature(parameters)
        if cls.__doc__:
            fill_doc(cls, _SHARED_DOCS)

    def __init__(self, *args, **kwargs):
        self.__dict__["_packed"] = None
        bound = self.__signature__.bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            setattr(self, name, value)
        self._check_settings()
        self.reset_state()

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in (*self.hyperparameters, "clip_value", "clip_norm"))
        return f"{type(self).__name__}({settings})"

    # -- declared settings ----------------------------------------------------------------
    def _check_settings(self):
        """Checks that involve several hyper-parameters (each one alone is checked when set)."""

    def _parameter_changed(self, name):
        self.__dict__["_packed"] = None

    def _kernel_hyper(self):
        """The packed kernel hyper-parameters (float64, slots in declaration order), checked once per change."""
        if self._packed is None:
            self._check_settings()
            values = []
            for hyper in self._hypers:
                value = getattr(self, hyper.name)
                if hyper.slots:
                    values.extend(value if isinstance(value, tuple) else (value,))
            self.__dict__["_packed"] = np.array(values, dtype=np.float64)
        return self._packed

    def _hyper_without_weight_decay(self):
        hyper = self._kernel_hyper().copy()
        if "weight_decay" in self.kernel_slots:
            hyper[self.kernel_slots.index("weight_decay")] = 0.0
        return hyper

    @property
    def decouples_weight_decay(self):
        """Whether ``weight_decay`` shrinks the parameters (AdamW) instead of adding to the gradient.

        Returns
        -------
        bool
            True for decoupled weight decay, p ← p·(1 − lr·weight_decay).

        See Also
        --------
        AdamW : Adam with decoupled weight decay on by default.

        Examples
        --------
        >>> from fastgd.optim import Adam, AdamW
        >>> Adam().decouples_weight_decay, AdamW().decouples_weight_decay
        (False, True)
        """
        return bool(getattr(self, "decoupled_weight_decay", False))

    def _active(self, buffer):
        return buffer.when is None or bool(getattr(self, buffer.when))

    # -- the state it owns ----------------------------------------------------------------
    def reset_state(self):
        """Forget the state: the next step starts as the first.

        The state buffers, the scalar state, ``step_count`` and
        ``last_grad_norm`` are dropped; the hyper-parameters stay.  The next
        step may then update arrays of other shapes.

        See Also
        --------
        Optimizer.restore : Return to a state copied earlier.
        Optimizer.load_state_dict : Take a saved state.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd.optim import SGD
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> norm = opt.step(np.zeros(2), np.ones(2))
        >>> opt.step_count
        1
        >>> opt.reset_state()
        >>> opt.step_count, opt.state
        (0, None)
        >>> norm = opt.step(np.zeros(3), np.ones(3))  # other shapes now
        """
        self.__dict__.update(_matrices=None, _shapes=None, step_count=0, last_grad_norm=None)
        self.__dict__["_scalar_state"] = np.array(list(self.scalars.values()), dtype=np.float64)

    @property
    def state(self):
        """The state buffers of each parameter array, under PyTorch's names.

        Returns
        -------
        list of dict or None
            Per parameter array, {buffer name: array shaped like the
            parameter, or None while the setting that needs the buffer is
            off}; None before the first step.  The arrays are views of the
            optimizer's own state.

        See Also
        --------
        Optimizer.state_dict : A picklable copy of the state and settings.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd.optim import RMSprop
        >>> opt = RMSprop(lr=0.01, alpha=0.75)
        >>> opt.state is None
        True
        >>> norm = opt.step(np.array([1.0, -2.0]), np.array([2.0, -4.0]))
        >>> opt.state[0]
        {'square_avg': array([1., 4.]), 'momentum_buffer': None, 'grad_avg': None}
        """
        if self._matrices is None:
            return None
        return [{b.name: (matrix[row].reshape(shape) if self._active(b) else None) for row, b in enumerate(self.buffers)}
                for matrix, shape in zip(self._matrices, self._shapes)]

    def _new_matrix(self, p):
        matrix = np.zeros((max(len(self.buffers), 1), p.size), dtype=p.dtype)
        for row, buffer in enumerate(self.buffers):
            if buffer.initial is not None:
                matrix[row] = getattr(self, buffer.initial)
        return matrix

    def _matrices_for(self, params):
        """The state matrices for ``params``: the ones held, or new ones (not yet kept)."""
        if self._matrices is None:
            return [self._new_matrix(p) for p in params]
        if len(self._matrices) != len(params):
            raise ValueError(f"this optimizer holds state for {len(self._matrices)} parameter arrays, got {len(params)}")
        for k, (p, matrix, shape) in enumerate(zip(params, self._matrices, self._shapes)):
            if p.shape != shape or p.dtype != matrix.dtype:
                raise ValueError(f"params[{k}] has shape {p.shape} and dtype {p.dtype}; its state has {shape} and {matrix.dtype}")
        return self._matrices

    def snapshot(self):
        """Copy the state, the step count and the scalar state, for ``restore``.

        Training uses it to take an epoch back (an adaptive rule may undo
        one); ``state_dict`` is the format for saving.

        Returns
        -------
        tuple
            (state matrices or None, scalar state, step count), all copies.

        See Also
        --------
        Optimizer.restore : Return to the copy.
        Optimizer.state_dict : The format for saving.

        Examples
        --------
        The parameters are the caller's: only the optimizer's state is copied.

        >>> import numpy as np
        >>> from fastgd.optim import SGD
        >>> w = np.array([1.0, -2.0])
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> norm = opt.step(w, 2 * w)
        >>> saved = opt.snapshot()
        >>> norm = opt.step(w, 2 * w)
        >>> opt.restore(saved)
        >>> opt.step_count, opt.state[0]["momentum_buffer"]
        (1, array([ 2., -4.]))
        """
        matrices = None if self._matrices is None else [m.copy() for m in self._matrices]
        return matrices, self._scalar_state.copy(), self.step_count

    def restore(self, snapshot):
        """Return to a ``snapshot``: the state is copied back into the optimizer's arrays.

        Parameters
        ----------
        snapshot : tuple
            What ``snapshot()`` returned, for the arrays the optimizer holds now.

        See Also
        --------
        Optimizer.snapshot : Copy the state.
        Optimizer.reset_state : Forget the state.
        Optimizer.load_state_dict : Take a saved state.

        Examples
        --------
        A snapshot taken before the first step returns to no state at all:

        >>> import numpy as np
        >>> from fastgd.optim import Adam
        >>> opt = Adam(lr=0.1)
        >>> before = opt.snapshot()
        >>> norm = opt.step(np.zeros(2), np.ones(2))
        >>> opt.restore(before)
        >>> opt.step_count, opt.state
        (0, None)
        """
        matrices, scalars, step_count = snapshot
        if matrices is None:
            self.reset_state()
            return
        for held, saved in zip(self._matrices, matrices):
            held[...] = saved
        self._scalar_state[...] = scalars
        self.step_count = step_count

    def bind(self, param):
        """Hand a compiled training loop what it needs to step this optimizer on ``param``.

        The optimizer keeps its state for ``param`` (created at the first
        call); ``state`` and ``scalars`` are its own arrays, updated in place
        by the loop, which reports its number of steps to ``advance``.  The
        intercept (the last entry) takes no weight decay.

        Parameters
        ----------
        param : numpy.ndarray
            The flat (1-D) parameter array the loop updates.

        Returns
        -------
        dict
            Keyword arguments of the loop: state, scalars, optimizer (the
            code), hyper, intercept_hyper, step, clip_value and clip_norm
            (infinity when off).

        Raises
        ------
        ValueError
            If ``param`` is not 1-D, or the optimizer holds state for other
            arrays.

        See Also
        --------
        Optimizer.advance : Count the loop's steps.
        Optimizer.step : One step on the caller's arrays.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd.optim import SGD
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> loop = opt.bind(np.zeros(3))
        >>> sorted(loop)
        ['clip_norm', 'clip_value', 'hyper', 'intercept_hyper', 'optimizer', 'scalars', 'state', 'step']
        >>> loop["state"].shape  # one row per buffer, one column per entry
        (1, 3)
        >>> loop["state"] is opt.bind(np.zeros(3))["state"]
        True
        """
        if param.ndim != 1:
            raise ValueError("a compiled loop steps one flat parameter array")
        matrices = self._matrices_for([param])
        self.__dict__.update(_matrices=matrices, _shapes=[param.shape])
        return dict(state=matrices[0], scalars=self._scalar_state, optimizer=self.code, hyper=self._kernel_hyper(),
                    intercept_hyper=self._hyper_without_weight_decay(), step=self.step_count,
                    clip_value=math.inf if self.clip_value is None else self.clip_value,
                    clip_norm=math.inf if self.clip_norm is None else self.clip_norm)

    def advance(self, n_steps):
        """Count the steps a compiled loop took (see ``bind``).

        Parameters
        ----------
        n_steps : int
            The number of steps taken.

        See Also
        --------
        Optimizer.bind : What the loop steps.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd.optim import Adam
        >>> opt = Adam()
        >>> loop = opt.bind(np.zeros(3))
        >>> opt.advance(5)  # the loop took 5 steps
        >>> opt.step_count
        5
        """
        self.step_count += int(n_steps)

    # -- the step -------------------------------------------------------------------------
    def step(self, params, grads, *, no_weight_decay=()):
        """Update ``params`` in place from ``grads``, as one PyTorch ``optimizer.step()``.

        The gradients are prepared (clip by value, clip by global norm, weight
        decay) and the rule applied in one fused pass per array.  Everything is
        checked before anything is written: a failed step changes neither
        parameters nor state.  The first step creates the state for these
        arrays; later steps must pass arrays of the same shapes and dtypes.

        Parameters
        ----------
        params : numpy.ndarray or list of numpy.ndarray
            The parameters: float32 or float64, C-contiguous and writeable,
            updated in place.
        grads : array_like or list of array_like
            One gradient per parameter array, of its shape and dtype.
        no_weight_decay : collection of int, default ()
            Indices of parameter arrays that weight decay leaves alone
            (PyTorch users put them, usually the biases, in a parameter group
            with ``weight_decay=0``).

        Returns
        -------
        float
            The raw gradient's global norm over all arrays, before clipping
            (also kept as ``last_grad_norm``).  With ``check_finite=False`` a
            non-finite gradient gives NaN or infinity.

        Raises
        ------
        TypeError
            If a parameter is not a float32 or float64 numpy.ndarray.
        ValueError
            If the arrays do not match (number, shapes, dtypes, the held
            state), a parameter is not C-contiguous and writeable, an index of
            ``no_weight_decay`` is out of range, or (with ``check_finite``) a
            gradient holds NaN or infinity.

        See Also
        --------
        Optimizer.reset_state : Start again from no state.
        Optimizer.state_dict : Save the state.
        torch.optim.Optimizer.step : PyTorch's step.

        Examples
        --------
        Weights and a bias, the bias without weight decay:

        >>> import numpy as np
        >>> from fastgd.optim import SGD
        >>> w, b = np.array([1.0, -2.0]), np.array([0.5])
        >>> opt = SGD(lr=0.1, weight_decay=0.5)
        >>> round(opt.step([w, b], [np.array([1.0, -1.0]), np.array([2.0])], no_weight_decay=[1]), 4)
        2.4495
        >>> w, b
        (array([ 0.85, -1.8 ]), array([0.3]))
        """
        params = _check_params(params)
        grads = _check_grads(grads, params)
        skip = _check_indices(no_weight_decay, len(params))
        backend = raw_kernels(self.backend)
        n_threads = v.check_n_threads(self.n_threads)
        hyper = self._kernel_hyper()
        matrices = self._matrices_for(params)
        clip_value = math.inf if self.clip_value is None else self.clip_value
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite norms are handled here
            grad_scale, raw_norm = 1.0, None
            if self.check_finite or self.clip_norm is not None:
                raw_norm, clipped_norm = self._norms(backend, grads, clip_value, n_threads)
                if self.clip_norm is not None:
                    grad_scale = min(1.0, self.clip_norm / (clipped_norm + NORM_EPS))
            squared, step, scalars = 0.0, self.step_count + 1, self._scalar_state
            for k, (p, g, matrix) in enumerate(zip(params, grads, matrices)):
                scalars = self._scalar_state.copy()  # every array starts from the step's scalar state
                squared += backend.optimizer_update(
                    p.reshape(-1), g, matrix, scalars, code=self.code,
                    hyper=self._hyper_without_weight_decay() if k in skip else hyper, step=step,
                    clip_value=clip_value, grad_scale=grad_scale, n_threads=n_threads,
                )
        self.__dict__.update(_matrices=matrices, _shapes=[p.shape for p in params], _scalar_state=scalars)
        self.step_count = step
        self.last_grad_norm = math.sqrt(squared) if raw_norm is None else raw_norm
        return self.last_grad_norm

    def _norms(self, backend, grads, clip_value, n_threads):
        """Global raw and value-clipped norms; ``ValueError`` for a non-finite gradient."""
        raw, clipped = 0.0, 0.0
        for g in grads:
            r, c = backend.squared_norm(g, clip_value=clip_value, n_threads=n_threads)
            raw, clipped = raw + r, clipped + c
        if math.isfinite(raw) and math.isfinite(clipped):
            return math.sqrt(raw), math.sqrt(clipped)
        for k, g in enumerate(grads):
            if not np.isfinite(g).all():
                if self.check_finite:
                    raise ValueError(f"grads[{k}] contains NaN or infinity; parameters and optimizer state are unchanged")
                return math.nan, math.nan
        clipped_grads = [np.clip(g, -clip_value, clip_value) for g in grads]
        return _global_norm_of_finite(grads), _global_norm_of_finite(clipped_grads)

    # -- persistence ----------------------------------------------------------------------
    def _settings(self):
        return {name: getattr(self, name) for name in (*self.hyperparameters, "clip_value", "clip_norm", "check_finite")}

    def state_dict(self):
        """Return a picklable copy of the settings, the step count and the state.

        The buffers carry PyTorch's names (exp_avg, exp_avg_sq, sum,
        momentum_buffer, ...), but the layout is fastgd's own: one dict per
        parameter array, not PyTorch's parameter groups.

        Returns
        -------
        dict
            Keys: "optimizer" (the class name), "hyperparameters" (the
            hyper-parameters, clip_value, clip_norm and check_finite), "step",
            "state" (per parameter array, {buffer name: array}, including the
            buffers of settings now off, as the optimizer keeps them; None
            before the first step) and "scalars" (the scalar state, such as
            NAdam's mu_product).

        See Also
        --------
        Optimizer.load_state_dict : Restore what it returns.
        Optimizer.snapshot : A cheaper copy of the state, within one fit.
        torch.optim.Optimizer.state_dict : PyTorch's, with parameter groups.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgd.optim import SGD
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> norm = opt.step(np.zeros(2), np.array([1.0, -1.0]))
        >>> saved = opt.state_dict()
        >>> saved["optimizer"], saved["step"], saved["hyperparameters"]["lr"]
        ('SGD', 1, 0.1)
        >>> saved["state"][0]
        {'momentum_buffer': array([ 1., -1.])}
        """
        state = None if self._matrices is None else [
            {b.name: matrix[row].reshape(shape).copy() for row, b in enumerate(self.buffers)}
            for matrix, shape in zip(self._matrices, self._shapes)
        ]
        return {"optimizer": type(self).__name__, "hyperparameters": self._settings(), "step": self.step_count,
                "state": state, "scalars": dict(zip(self.scalars, self._scalar_state.tolist()))}

    def load_state_dict(self, state_dict):
        """Restore the settings and state that ``state_dict`` returned.

        The arrays are copied, so the optimizer and ``state_dict`` stay
        independent.  The backend and n_threads are not part of it.

        Parameters
        ----------
        state_dict : dict
            What ``state_dict()`` of an optimizer of the same class returned.

        Raises
        ------
        ValueError
            If ``state_dict`` is malformed or for another class; nothing is
            changed then.

        See Also
        --------
        Optimizer.state_dict : What it takes.
        Optimizer.restore : Return to a snapshot.

        Examples
        --------
        >>> import pickle
        >>> import numpy as np
        >>> from fastgd.optim import Adam
        >>> opt = Adam(lr=0.1)
        >>> norm = opt.step(np.zeros(2), np.array([1.0, -1.0]))
        >>> other = Adam()
        >>> other.load_state_dict(pickle.loads(pickle.dumps(opt.state_dict())))
        >>> other.lr, other.step_count
        (0.1, 1)
        >>> other.state[0]["exp_avg"].round(4)
        array([ 0.1, -0.1])
        """
        name, settings, step, matrices, shapes, scalars = self._read_state_dict(state_dict)
        previous = self._settings()
        try:
            for key, value in settings.items():
                setattr(self, key, value)
            self._check_settings()
        except (TypeError, ValueError):
            for key, value in previous.items():
                setattr(self, key, value)
            raise
        self.__dict__.update(_matrices=matrices, _shapes=shapes, _scalar_state=scalars)
        self.step_count, self.last_grad_norm = step, None

    def _read_state_dict(self, state_dict):
        """The parts of a ``state_dict``, checked; ``ValueError`` naming what is wrong."""
        if not isinstance(state_dict, dict) or not {"optimizer", "hyperparameters", "step", "state"} <= state_dict.keys():
            raise ValueError("state_dict must be a dict with the keys 'optimizer', 'hyperparameters', 'step' and 'state'")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is for {state_dict['optimizer']!r}, not {type(self).__name__!r}")
        settings = state_dict["hyperparameters"]
        if not isinstance(settings, dict) or not set(settings) <= set(self._settings()):
            raise ValueError(f"state_dict['hyperparameters'] must be a dict with keys among {sorted(self._settings())}")
        step = state_dict["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"state_dict['step'] must be an int >= 0, got {step!r}")
        scalars = dict(self.scalars, **state_dict.get("scalars", {}))
        if set(scalars) != set(self.scalars):
            raise ValueError(f"state_dict['scalars'] must have the keys {sorted(self.scalars)}")
        matrices, shapes = self._read_buffers(state_dict["state"])
        return state_dict["optimizer"], settings, int(step), matrices, shapes, np.array(list(scalars.values()), dtype=np.float64)

    def _read_buffers(self, state):
        if state is None:
            return None, None
        if not isinstance(state, (list, tuple)) or not all(isinstance(s, dict) for s in state):
            raise ValueError("state_dict['state'] must be None or a list of dicts of buffers")
        names = [b.name for b in self.buffers]
        matrices, shapes = [], []
        for k, buffers in enumerate(state):
            if sorted(buffers) != sorted(names):
                raise ValueError(f"state_dict['state'][{k}] must have the buffers {names}, got {sorted(buffers)}")
            arrays = [np.asarray(buffers[name]) for name in names]
            if arrays[0].dtype not in v.FLOAT_DTYPES or any(a.shape != arrays[0].shape or a.dtype != arrays[0].dtype for a in arrays):
                raise ValueError(f"state_dict['state'][{k}] must hold float32 or float64 arrays of one shape and dtype")
            matrix = np.stack([a.reshape(-1) for a in arrays])
            matrices.append(matrix)
            shapes.append(arrays[0].shape)
        return matrices, shapes


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    The rule, the defaults and the state name (momentum_buffer) of
    torch.optim.SGD.  With g the prepared gradient (clipped, plus
    weight_decay·p), μ = momentum and τ = dampening, at each step::

        b ← g                     at the first step (momentum > 0)
        b ← μ·b + (1 − τ)·g       at the later steps
        p ← p − lr·(g + μ·b)      with nesterov
        p ← p − lr·b              with momentum, without nesterov
        p ← p − lr·g              without momentum (no buffer)

    Parameters
    ----------
    {lr}
    {momentum}
    dampening : float, default 0.0
        The dampening τ of the gradient added to the momentum buffer.
    {l2_weight_decay}
    nesterov : bool, default False
        Nesterov momentum; needs momentum > 0 and dampening = 0.
    {optimizer_options}

    {optimizer_attributes}

    Raises
    ------
    ValueError
        If a setting is outside its range, at construction or when assigned
        later (fastgd's InvalidParameterError, also a TypeError), or
        nesterov is set without momentum or with dampening.

    See Also
    --------
    torch.optim.SGD : PyTorch's SGD: the same rule and defaults.
    fastgd.schedules.ArmijoLineSearch : A line search for plain SGD steps.

    Examples
    --------
    Two steps on f(w) = ‖w‖², whose gradient is 2·w:

    >>> import numpy as np
    >>> from fastgd.optim import SGD
    >>> w = np.array([1.0, -2.0])
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     norm = opt.step(w, 2 * w)
    >>> w
    array([ 0.46, -0.92])
    >>> opt.state[0]["momentum_buffer"]
    array([ 3.4, -6.8])
    """

    code = 0
    lr = Hyper(1e-3, v.NON_NEGATIVE)
    momentum = Hyper(0.0, v.NON_NEGATIVE)
    dampening = Hyper(0.0, v.Interval(numbers.Real, None, None, closed="neither"))
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    nesterov = Hyper(False, v.Boolean())
    buffers = (Buffer("momentum_buffer", when="momentum"),)
    scalars = {"momentum_buffer_ready": 0.0}

    def _check_settings(self):
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise v.InvalidParameterError("SGD: Nesterov momentum requires a momentum and zero dampening")


class Adagrad(Optimizer):
    """Adagrad: per-entry rates that shrink with the sum of squared gradients.

    The rule, the defaults and the state name (sum) of torch.optim.Adagrad.
    With g the prepared gradient (clipped, plus weight_decay·p), at step t
    (from 1)::

        s ← s + g²                          (s starts at initial_accumulator_value)
        p ← p − lr/(1 + (t − 1)·lr_decay) · g/(√s + ε)

    Parameters
    ----------
    {lr}
    lr_decay : float, default 0.0
        The decay of the rate with the step count, ≥ 0.
    {l2_weight_decay}
    initial_accumulator_value : float, default 0.0
        The initial value of every entry of the sum s, ≥ 0.
    eps : float, default 1e-10
        The ε added to √s for numerical stability.
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.Adagrad : PyTorch's Adagrad: the same rule and defaults.
    RMSprop : A moving average of g² instead of the sum.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.optim import Adagrad
    >>> w = np.array([1.0, -2.0])
    >>> opt = Adagrad(lr=0.5)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w
    array([ 0.5, -1.5])
    >>> opt.state[0]["sum"]
    array([ 4., 16.])
    """

    code = 1
    lr = Hyper(1e-2, v.NON_NEGATIVE)
    lr_decay = Hyper(0.0, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    initial_accumulator_value = Hyper(0.0, v.NON_NEGATIVE, slots=())
    eps = Hyper(1e-10, v.NON_NEGATIVE)
    buffers = (Buffer("sum", initial="initial_accumulator_value"),)


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a moving average of squared gradients.

    The rule, the defaults and the state names (square_avg, momentum_buffer,
    grad_avg) of torch.optim.RMSprop.  With g the prepared gradient
    (clipped, plus weight_decay·p), α = alpha and μ = momentum::

        v ← α·v + (1 − α)·g²
        a = √v + ε
        centered:  ḡ ← α·ḡ + (1 − α)·g,   a = √max(v − ḡ², 0) + ε
        b ← μ·b + g/a,   p ← p − lr·b     with momentum (μ > 0)
        p ← p − lr·g/a                    without momentum

    The clamp at 0 in the centered variant is the one difference from
    PyTorch, which would produce NaN there.

    Parameters
    ----------
    {lr}
    alpha : float, default 0.99
        The smoothing constant α of the averages, in [0, 1].
    eps : float, default 1e-08
        The ε added to the root for numerical stability.
    {l2_weight_decay}
    {momentum}
    centered : bool, default False
        Divide by an estimate of the gradient's variance, v − ḡ², instead of
        its second moment.
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.RMSprop : PyTorch's RMSprop: the same rule and defaults.
    Adam : Adds a bias-corrected first moment.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.optim import RMSprop
    >>> w = np.array([1.0, -2.0])
    >>> opt = RMSprop(lr=0.01, alpha=0.75)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w
    array([ 0.98, -1.98])
    >>> opt.state[0]["square_avg"]
    array([1., 4.])
    """

    code = 2
    lr = Hyper(1e-2, v.NON_NEGATIVE)
    alpha = Hyper(0.99, v.Interval(numbers.Real, 0, 1, closed="both"))
    eps = Hyper(1e-8, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    momentum = Hyper(0.0, v.NON_NEGATIVE)
    centered = Hyper(False, v.Boolean())
    buffers = (Buffer("square_avg"), Buffer("momentum_buffer", when="momentum"), Buffer("grad_avg", when="centered"))


class Adam(Optimizer):
    """Adam: steps from bias-corrected moving averages of the gradient and its square.

    The rule, the defaults and the state names (exp_avg, exp_avg_sq,
    max_exp_avg_sq) of torch.optim.Adam, AMSGrad and decoupled weight decay
    included.  With g the prepared gradient, (β₁, β₂) = betas, at step t
    (from 1)::

        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        amsgrad:  v_max ← max(v_max, v), used in place of v below
        m̂ = m/(1 − β₁ᵗ),   v̂ = v/(1 − β₂ᵗ)
        p ← p − lr·m̂/(√v̂ + ε)

    weight_decay adds weight_decay·p to g (L2), or, with
    decoupled_weight_decay, shrinks p ← p·(1 − lr·weight_decay) before the
    moment updates (AdamW).

    Parameters
    ----------
    {lr}
    {betas}
    eps : float, default 1e-08
        The ε added to √v̂ for numerical stability.
    weight_decay : float, default 0.0
        The weight decay, ≥ 0: L2 (added to g) or decoupled.
    amsgrad : bool, default False
        Divide by the largest second moment seen so far (AMSGrad).
    decoupled_weight_decay : bool, default False
        Shrink the parameters instead of adding to the gradient, which
        makes this AdamW.
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.Adam : PyTorch's Adam: the same rule and defaults.
    AdamW : Adam with decoupled weight decay on by default.
    NAdam, Adamax : Adam with Nesterov momentum, with the infinity norm.

    Examples
    --------
    The first step moves each entry by about lr against the sign of its
    gradient:

    >>> import numpy as np
    >>> from fastgd.optim import Adam
    >>> w = np.array([1.0, -2.0])
    >>> opt = Adam(lr=0.1)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w
    array([ 0.9, -1.9])
    >>> sorted(opt.state_dict()["state"][0])
    ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']
    """

    code = 3
    lr = Hyper(1e-3, v.NON_NEGATIVE)
    betas = Hyper((0.9, 0.999), v.PairOf(_UNIT), slots=("beta1", "beta2"))
    eps = Hyper(1e-8, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    amsgrad = Hyper(False, v.Boolean())
    decoupled_weight_decay = Hyper(False, v.Boolean())
    buffers = (Buffer("exp_avg"), Buffer("exp_avg_sq"), Buffer("max_exp_avg_sq", when="amsgrad"))


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay.

    The rule, the defaults and the state names of torch.optim.AdamW: the
    parameters shrink, p ← p·(1 − lr·weight_decay), before the moment
    updates, and the gradient takes no L2 term; the rest is Adam's::

        p ← p·(1 − lr·weight_decay)
        m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
        p ← p − lr·m̂/(√v̂ + ε),   m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)

    Parameters
    ----------
    {lr}
    {betas}
    eps : float, default 1e-08
        The ε added to √v̂ for numerical stability.
    weight_decay : float, default 0.01
        The decoupled weight decay coefficient, ≥ 0.
    amsgrad : bool, default False
        Divide by the largest second moment seen so far (AMSGrad).
    decoupled_weight_decay : bool, default True
        False turns this into Adam with an L2 term.
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.AdamW : PyTorch's AdamW: the same rule and defaults.
    Adam : The same rule with L2 weight decay by default.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.optim import AdamW
    >>> w = np.array([1.0, -2.0])
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w
    array([ 0.85, -1.8 ])
    """

    weight_decay = Hyper(1e-2, v.NON_NEGATIVE)
    decoupled_weight_decay = Hyper(True, v.Boolean())


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum.

    The rule, the defaults and the state names (exp_avg, exp_avg_sq,
    mu_product) of torch.optim.NAdam.  With g the prepared gradient,
    (β₁, β₂) = betas and ψ = momentum_decay, at step t (from 1)::

        μₜ = β₁·(1 − 0.5·0.96^(t·ψ)),   Πₜ = μ₁·μ₂·…·μₜ   (mu_product)
        m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
        a = √(v/(1 − β₂ᵗ)) + ε
        p ← p − lr·(1 − μₜ)/(1 − Πₜ)·g/a − lr·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/a

    weight_decay adds weight_decay·p to g (L2), or, with
    decoupled_weight_decay, shrinks p ← p·(1 − lr·weight_decay) first.
    mu_product is one scalar kept in float64 (PyTorch keeps one per
    parameter in its default dtype).

    Parameters
    ----------
    {lr}
    {betas}
    eps : float, default 1e-08
        The ε added to the root for numerical stability.
    weight_decay : float, default 0.0
        The weight decay, ≥ 0: L2 (added to g) or decoupled.
    momentum_decay : float, default 0.004
        The ψ of μₜ: how fast the momentum factor rises towards β₁, ≥ 0.
    decoupled_weight_decay : bool, default False
        Shrink the parameters instead of adding to the gradient (as AdamW).
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.NAdam : PyTorch's NAdam: the same rule and defaults.
    Adam : The same moments without Nesterov momentum.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.optim import NAdam
    >>> w = np.array([1.0, -2.0])
    >>> opt = NAdam(lr=0.1)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w.round(4)
    array([ 0.8944, -1.8944])
    >>> round(opt.state_dict()["scalars"]["mu_product"], 4)
    0.4501
    """

    code = 4
    lr = Hyper(2e-3, v.NON_NEGATIVE)
    betas = Hyper((0.9, 0.999), v.PairOf(_UNIT), slots=("beta1", "beta2"))
    eps = Hyper(1e-8, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    momentum_decay = Hyper(4e-3, v.NON_NEGATIVE)
    decoupled_weight_decay = Hyper(False, v.Boolean())
    buffers = (Buffer("exp_avg"), Buffer("exp_avg_sq"))
    scalars = {"mu_product": 1.0}


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm in place of the second moment.

    The rule, the defaults and the state names (exp_avg, exp_inf) of
    torch.optim.Adamax.  With g the prepared gradient (clipped, plus
    weight_decay·p), (β₁, β₂) = betas, at step t (from 1)::

        m ← β₁·m + (1 − β₁)·g
        u ← max(β₂·u, |g| + ε)
        p ← p − lr/(1 − β₁ᵗ)·m/u

    Parameters
    ----------
    {lr}
    betas : tuple of (float, float), default (0.9, 0.999)
        (β₁, β₂), the decay rates of the first moment and of the infinity
        norm, each in [0, 1).
    eps : float, default 1e-08
        The ε added to abs(g) for numerical stability.
    {l2_weight_decay}
    {optimizer_options}

    {optimizer_attributes}

    {optimizer_raises}

    See Also
    --------
    torch.optim.Adamax : PyTorch's Adamax: the same rule and defaults.
    Adam : The same first moment with a second moment.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd.optim import Adamax
    >>> w = np.array([1.0, -2.0])
    >>> opt = Adamax(lr=0.1)
    >>> norm = opt.step(w, np.array([2.0, -4.0]))
    >>> w
    array([ 0.9, -1.9])
    >>> opt.state[0]["exp_inf"]  # |g| + ε
    array([2.00000001, 4.00000001])
    """

    code = 5
    lr = Hyper(2e-3, v.NON_NEGATIVE)
    betas = Hyper((0.9, 0.999), v.PairOf(_UNIT), slots=("beta1", "beta2"))
    eps = Hyper(1e-8, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    buffers = (Buffer("exp_avg"), Buffer("exp_inf"))
