"""Optimizers with PyTorch's update rules and defaults, fused and compiled.

Each optimizer updates a list of float arrays (or one array) in place::

    opt = fastgd.optim.Adam(lr=1e-3, clip_norm=1.0)
    opt.step([w, b], [grad_w, grad_b])

Every step prepares the gradient elementwise, in this order (as PyTorch's
``clip_grad_value_``, ``clip_grad_norm_`` and ``weight_decay`` do):

1. clip by value: ``g = clamp(g, -clip_value, clip_value)``;
2. clip by global norm: ``g = g * min(1, clip_norm / (||g||_2 + 1e-6))`` with the
   norm taken over all arrays together;
3. L2 weight decay: ``g = g + weight_decay * p`` (decoupled decay, as AdamW's,
   shrinks ``p`` instead).

``opt.last_grad_norm`` is the raw gradient's global norm (before clipping).  By
default (``check_finite=True``) a non-finite gradient raises ``ValueError`` and
leaves parameters and state untouched; ``check_finite=False`` without
``clip_norm`` makes each step a single fused pass over memory (PyTorch's
behaviour: a NaN gradient then propagates).  Hyper-parameters are attributes,
checked when set, and may be changed between steps (learning-rate schedules do
this).  ``state_dict()`` / ``load_state_dict()`` round-trip through pickle.

Each optimizer is one declaration: its hyper-parameters (:class:`Hyper`: name,
PyTorch's default, the allowed values, the kernel slots it fills), its state
buffers (:class:`Buffer`: name, the setting that needs it, its initial value),
its scalar state and its kernel ``code``.  The constructor, the checks,
``state_dict`` and both uses of the update -- :meth:`Optimizer.step` on the
caller's arrays and the compiled training epochs -- derive from it; each
backend implements the rule once, behind its ``optimizer_update`` kernel.
"""

import inspect
import math
import numbers

import numpy as np

from fastgd import _validation as v
from fastgd.backends import BACKEND_ORDER, raw_kernels

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "Adamax"]

NORM_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_
_UNIT = v.Interval(numbers.Real, 0, 1, closed="left")


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
    """The machinery every declared optimizer shares: construction, checks, the step,
    the state it owns, clipping, the norm pass, ``state_dict``.

    Options common to all (keyword-only):

    * ``clip_value`` -- clamp each gradient entry to ``[-clip_value, clip_value]`` (None: off);
    * ``clip_norm`` -- rescale the gradient to a global norm of at most ``clip_norm`` (None: off);
    * ``check_finite`` -- refuse a non-finite gradient before touching anything (default True);
    * ``backend`` -- ``"cython"``, ``"numba"``, ``"numpy"`` or None (the current default);
    * ``n_threads`` -- threads for large arrays (None: every usable core).
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
        """Whether ``weight_decay`` shrinks the parameters (AdamW) instead of adding to the gradient."""
        return bool(getattr(self, "decoupled_weight_decay", False))

    def _active(self, buffer):
        return buffer.when is None or bool(getattr(self, buffer.when))

    # -- the state it owns ----------------------------------------------------------------
    def reset_state(self):
        """Forget the state: the next step starts as the first."""
        self.__dict__.update(_matrices=None, _shapes=None, step_count=0, last_grad_norm=None)
        self.__dict__["_scalar_state"] = np.array(list(self.scalars.values()), dtype=np.float64)

    @property
    def state(self):
        """Per parameter array, ``{buffer name: array shaped like the parameter, or None}``
        (None while the setting that needs the buffer is off); None before the first step."""
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
        """A copy of the state, the step count and the scalars, for :meth:`restore`."""
        matrices = None if self._matrices is None else [m.copy() for m in self._matrices]
        return matrices, self._scalar_state.copy(), self.step_count

    def restore(self, snapshot):
        """Return to a :meth:`snapshot` (the arrays are copied in place)."""
        matrices, scalars, step_count = snapshot
        if matrices is None:
            self.reset_state()
            return
        for held, saved in zip(self._matrices, matrices):
            held[...] = saved
        self._scalar_state[...] = scalars
        self.step_count = step_count

    def bind(self, param):
        """Keyword arguments of a compiled loop that steps this optimizer on the flat array ``param``.

        The optimizer keeps its state for ``param`` (created at the first call);
        ``state`` and ``scalars`` are its own arrays, updated in place by the
        loop, which reports its number of steps to :meth:`advance`.  The
        intercept (the last entry) takes no weight decay.
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
        """Count ``n_steps`` steps taken by a compiled loop (see :meth:`bind`)."""
        self.step_count += int(n_steps)

    # -- the step -------------------------------------------------------------------------
    def step(self, params, grads, *, no_weight_decay=()):
        """Update ``params`` in place from ``grads``; return the raw global gradient norm.

        ``no_weight_decay`` lists the indices of parameter arrays that weight
        decay leaves alone (PyTorch users put them, usually the biases, in a
        parameter group with ``weight_decay=0``).  Everything is checked before
        anything is written: a failed step changes neither parameters nor state.
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
        """A picklable copy of the hyper-parameters, the step count, every state buffer (also
        those of settings now off, as the optimizer keeps them) and the scalar state."""
        state = None if self._matrices is None else [
            {b.name: matrix[row].reshape(shape).copy() for row, b in enumerate(self.buffers)}
            for matrix, shape in zip(self._matrices, self._shapes)
        ]
        return {"optimizer": type(self).__name__, "hyperparameters": self._settings(), "step": self.step_count,
                "state": state, "scalars": dict(zip(self.scalars, self._scalar_state.tolist()))}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (copies, so both stay independent).

        A malformed ``state_dict`` raises ``ValueError`` and changes nothing.
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
    """Stochastic gradient descent with momentum and Nesterov momentum (PyTorch's rule).

    With ``d`` the prepared gradient, ``mu`` = momentum and ``tau`` = dampening::

        b = d at the first step with momentum, else  b = mu b + (1 - tau) d
        p = p - lr (d + mu b)   (nesterov)   or   p = p - lr b   (else);   without momentum p = p - lr d
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
    """Adagrad (PyTorch's rule), at step t (from 1)::

        s = s + d^2          (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) lr_decay) d / (sqrt(s) + eps)
    """

    code = 1
    lr = Hyper(1e-2, v.NON_NEGATIVE)
    lr_decay = Hyper(0.0, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    initial_accumulator_value = Hyper(0.0, v.NON_NEGATIVE, slots=())
    eps = Hyper(1e-10, v.NON_NEGATIVE)
    buffers = (Buffer("sum", initial="initial_accumulator_value"),)


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum (PyTorch's rule)::

        v = alpha v + (1 - alpha) d^2
        a = sqrt(v) + eps,  or centered:  m = m + (1 - alpha)(d - m),  a = sqrt(max(v - m^2, 0)) + eps
        b = mu b + d / a,  p = p - lr b   (momentum mu > 0)   or   p = p - lr d / a

    The clamp at 0 is where PyTorch would produce NaN.
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
    """Adam (PyTorch's rule), with optional AMSGrad and decoupled weight decay, at step t::

        m = m + (1 - beta1)(d - m),   v = beta2 v + (1 - beta2) d^2,   (amsgrad: v = vmax = max(vmax, v))
        p = p - lr / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``weight_decay`` adds ``weight_decay * p`` to ``d`` (L2), or with
    ``decoupled_weight_decay`` shrinks ``p = p (1 - lr weight_decay)`` first (AdamW).
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
    """Adam with decoupled weight decay (PyTorch's AdamW): ``p = p (1 - lr weight_decay)``
    before the moment updates, and no L2 term in the gradient; otherwise :class:`Adam`.
    """

    weight_decay = Hyper(1e-2, v.NON_NEGATIVE)
    decoupled_weight_decay = Hyper(True, v.Boolean())


class NAdam(Optimizer):
    """Adam with Nesterov momentum (PyTorch's NAdam), at step t, ``psi`` = momentum_decay::

        mu_t = beta1 (1 - 0.5 * 0.96^(t psi)),   mu_product = mu_1 mu_2 ... mu_t
        m = m + (1 - beta1)(d - m),   v = beta2 v + (1 - beta2) d^2,   a = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr (1 - mu_t) / (1 - mu_product) d / a - lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / a

    ``weight_decay`` adds ``weight_decay * p`` to ``d`` (L2), or with
    ``decoupled_weight_decay`` shrinks ``p = p (1 - lr weight_decay)`` first.
    ``mu_product`` is kept in float64 (PyTorch keeps it in its default dtype).
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
    """Adam with the infinity norm (PyTorch's Adamax), at step t::

        m = m + (1 - beta1)(d - m),   u = max(beta2 u, |d| + eps)
        p = p - lr / (1 - beta1^t) m / u

    ``weight_decay`` adds ``weight_decay * p`` to ``d`` (L2).
    """

    code = 5
    lr = Hyper(2e-3, v.NON_NEGATIVE)
    betas = Hyper((0.9, 0.999), v.PairOf(_UNIT), slots=("beta1", "beta2"))
    eps = Hyper(1e-8, v.NON_NEGATIVE)
    weight_decay = Hyper(0.0, v.NON_NEGATIVE)
    buffers = (Buffer("exp_avg"), Buffer("exp_inf"))
