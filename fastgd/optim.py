"""Optimizers with PyTorch's update rules and defaults, fused and compiled.

Each optimizer updates a list of float arrays (or one array) in place::

    opt = fastgd.optim.Adam(lr=1e-3, clip_norm=1.0)
    opt.step([w, b], [grad_w, grad_b])

Every step prepares the gradient elementwise, in this order (as PyTorch's
``clip_grad_value_``, ``clip_grad_norm_`` and ``weight_decay`` do):

1. clip by value: ``g = clamp(g, -clip_value, clip_value)``;
2. clip by global norm: ``g = g * min(1, clip_norm / (||g||_2 + 1e-6))`` with the
   norm taken over all arrays together;
3. L2 weight decay: ``g = g + weight_decay * p`` (AdamW decays ``p`` instead).

``opt.last_grad_norm`` is the raw gradient's global norm (before clipping).  By
default (``check_finite=True``) a non-finite gradient raises ``ValueError`` and
leaves parameters and state untouched; ``check_finite=False`` without
``clip_norm`` makes each step a single fused pass over memory (PyTorch's
behaviour: a NaN gradient then propagates).  Hyper-parameters are attributes
and may be changed between steps (learning-rate schedules do this).
``state_dict()`` / ``load_state_dict()`` round-trip through pickle.
"""

import math

import numpy as np

from fastgd import _validation as v
from fastgd.backends import get_backend

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

NORM_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_


def _as_list(arrays, name):
    if isinstance(arrays, np.ndarray):
        return [arrays]
    if isinstance(arrays, (list, tuple)) and arrays:
        return list(arrays)
    raise TypeError(f"{name} must be an array or a non-empty list of arrays")


def _check_params(params):
    params = _as_list(params, "params")
    for k, p in enumerate(params):
        if not isinstance(p, np.ndarray) or p.dtype not in v.FLOAT_DTYPES:
            raise TypeError(f"params[{k}] must be a float32 or float64 ndarray")
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


def _check_range(name, value, low, high=math.inf, *, low_open=False):
    value = v.check_scalar(value, name)
    if value < low or (low_open and value == low) or value >= high:
        bounds = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"invalid {name}: {value}; it must be in {bounds}")
    return value


def _check_alpha(alpha):
    alpha = v.check_scalar(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"invalid alpha: {alpha}; it must be in [0, 1]")
    return alpha


def _optional_positive(name, value):
    return math.inf if value is None else _check_range(name, value, 0.0, low_open=True)


def _global_norm_of_finite(grads):
    """Overflow-safe global norm for finite gradients whose squares overflowed."""
    largest = max(float(np.max(np.abs(g), initial=0.0)) for g in grads)
    return largest * math.sqrt(sum(float(np.sum(np.square(g / largest, dtype=np.float64))) for g in grads))


class Optimizer:
    """Shared machinery: checks, state, clipping, the norm pass, state_dict.

    Subclasses name their ``kernel``, their ``hyperparameters`` (attribute
    names, in constructor order), the state buffers a setting needs
    (:meth:`_buffer_names`) and the kernel's keyword arguments
    (:meth:`_kernel_arguments`, which also validates).
    """

    kernel = None
    hyperparameters = ()
    buffers = ()

    def __init__(self, *, clip_value=None, clip_norm=None, check_finite=True, backend=None, n_threads=None):
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.check_finite = check_finite
        self.backend = backend
        self.n_threads = n_threads
        self.state = None
        self.step_count = 0
        self.last_grad_norm = None
        self._kernel_arguments()  # validate now, and again at each step

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in (*self.hyperparameters, "clip_value", "clip_norm"))
        return f"{type(self).__name__}({settings})"

    # -- to be specialised ----------------------------------------------------------------
    def _buffer_names(self):
        raise NotImplementedError

    def _kernel_arguments(self):
        raise NotImplementedError

    def _initial_buffer(self, name, p):
        return np.zeros_like(p)

    def _epoch_hyper(self):
        """``(optimizer code name, hyper-parameters)`` for a compiled epoch (``_spec.HYPER_LAYOUT``)."""
        raise NotImplementedError

    # -- the step -------------------------------------------------------------------------
    def step(self, params, grads):
        """Update ``params`` in place from ``grads``; return the raw global gradient norm."""
        params = _check_params(params)
        grads = _check_grads(grads, params)
        arguments = self._kernel_arguments()
        clip_value = _optional_positive("clip_value", self.clip_value)
        clip_norm = None if self.clip_norm is None else _optional_positive("clip_norm", self.clip_norm)
        n_threads = v.check_n_threads(self.n_threads)
        backend = get_backend(self.backend)
        state = self._state_for(params)
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite norms are handled here
            grad_scale, raw_norm = 1.0, None
            if self.check_finite or clip_norm is not None:
                raw_norm, clipped_norm = self._norms(backend, grads, clip_value, n_threads)
                if clip_norm is not None:
                    grad_scale = min(1.0, clip_norm / (clipped_norm + NORM_EPS))
            kernel = getattr(backend, self.kernel)
            squared = 0.0
            for p, g, buffers in zip(params, grads, state):
                flat_buffers = [None if b is None else b.reshape(-1) for b in buffers.values()]
                squared += kernel(p.reshape(-1), g, *flat_buffers, **arguments, clip_value=clip_value, grad_scale=grad_scale, n_threads=n_threads)
        self.state, self.step_count = state, self.step_count + 1
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

    def _state_for(self, params):
        """The state buffers for ``params``, created on the first step."""
        names = self._buffer_names()
        if self.state is None:
            return [{name: (self._initial_buffer(name, p) if name in names else None) for name in self.buffers} for p in params]
        if len(self.state) != len(params):
            raise ValueError(f"this optimizer holds state for {len(self.state)} parameter arrays, got {len(params)}")
        for k, (p, buffers) in enumerate(zip(params, self.state)):
            for name in self.buffers:
                buffer = buffers[name]
                if name in names and buffer is None:  # a setting was switched on mid-run
                    buffers[name] = self._initial_buffer(name, p)
                elif buffer is not None and (buffer.shape != p.shape or buffer.dtype != p.dtype):
                    raise ValueError(f"params[{k}] has shape {p.shape} and dtype {p.dtype}; its state has {buffer.shape} and {buffer.dtype}")
        return self.state

    # -- persistence ----------------------------------------------------------------------
    def state_dict(self):
        """A picklable copy of the hyper-parameters, step count and state buffers."""
        state = None if self.state is None else [{k: None if b is None else b.copy() for k, b in s.items()} for s in self.state]
        settings = {name: getattr(self, name) for name in (*self.hyperparameters, "clip_value", "clip_norm", "check_finite")}
        return {"optimizer": type(self).__name__, "hyperparameters": settings, "step": self.step_count, "state": state}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (copies, so both stay independent)."""
        if state_dict.get("optimizer") != type(self).__name__:
            raise ValueError(f"state_dict is for {state_dict.get('optimizer')!r}, not {type(self).__name__!r}")
        previous = {name: getattr(self, name) for name in state_dict["hyperparameters"]}
        for name, value in state_dict["hyperparameters"].items():
            setattr(self, name, value)
        try:
            self._kernel_arguments()
        except (TypeError, ValueError):
            for name, value in previous.items():
                setattr(self, name, value)
            raise
        state = state_dict["state"]
        self.state = None if state is None else [{k: None if b is None else np.array(b) for k, b in s.items()} for s in state]
        self.step_count = int(state_dict["step"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and Nesterov momentum (PyTorch's rule).

    .. math::

        b_t = g_t \\text{ at the first step, else } \\mu b_{t-1} + (1 - \\tau) g_t, \\quad
        d_t = g_t + \\mu b_t \\text{ (Nesterov) or } b_t, \\quad
        p_t = p_{t-1} - \\eta d_t

    with ``lr`` = eta, ``momentum`` = mu, ``dampening`` = tau; without momentum ``d_t = g_t``.
    """

    kernel = "sgd_step"
    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    buffers = ("momentum_buffer",)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, **options):
        self.lr, self.momentum, self.dampening, self.weight_decay, self.nesterov = lr, momentum, dampening, weight_decay, nesterov
        super().__init__(**options)

    def _buffer_names(self):
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def _kernel_arguments(self):
        momentum = _check_range("momentum", self.momentum, 0.0)
        dampening = _check_range("dampening", self.dampening, -math.inf)
        if self.nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        first_step = self.state is None or self.step_count == 0 or self.state[0]["momentum_buffer"] is None
        return dict(lr=_check_range("lr", self.lr, 0.0), momentum=momentum, dampening=dampening,
                    weight_decay=_check_range("weight_decay", self.weight_decay, 0.0), nesterov=bool(self.nesterov),
                    first_step=first_step)

    def _initial_buffer(self, name, p):
        return np.empty_like(p)  # set to g by the first step

    def _epoch_hyper(self):
        a = self._kernel_arguments()
        return "sgd", (a["lr"], a["momentum"], a["dampening"], float(a["nesterov"]))


class Adagrad(Optimizer):
    """Adagrad (PyTorch's rule).

    .. math::

        s_t = s_{t-1} + g_t^2, \\quad
        p_t = p_{t-1} - \\frac{\\eta}{1 + (t - 1) \\lambda} \\frac{g_t}{\\sqrt{s_t} + \\epsilon}

    with ``lr`` = eta, ``lr_decay`` = lambda, ``s_0`` = ``initial_accumulator_value``.
    """

    kernel = "adagrad_step"
    hyperparameters = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    buffers = ("sum",)

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, **options):
        self.lr, self.lr_decay, self.weight_decay = lr, lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps
        super().__init__(**options)

    def _buffer_names(self):
        return ("sum",)

    def _initial_buffer(self, name, p):
        return np.full_like(p, self.initial_accumulator_value)

    def _kernel_arguments(self):
        _check_range("initial_accumulator_value", self.initial_accumulator_value, 0.0)
        return dict(lr=_check_range("lr", self.lr, 0.0), lr_decay=_check_range("lr_decay", self.lr_decay, 0.0),
                    weight_decay=_check_range("weight_decay", self.weight_decay, 0.0),
                    eps=_check_range("eps", self.eps, 0.0), step=float(self.step_count + 1))

    def _epoch_hyper(self):
        a = self._kernel_arguments()
        return "adagrad", (a["lr"], a["lr_decay"], a["eps"])


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum (PyTorch's rule).

    .. math::

        v_t = \\alpha v_{t-1} + (1 - \\alpha) g_t^2, \\quad
        a_t = \\sqrt{v_t} + \\epsilon \\text{ or, centered, } \\sqrt{\\max(v_t - m_t^2, 0)} + \\epsilon,
        \\ m_t = m_{t-1} + (1 - \\alpha)(g_t - m_{t-1})

    then ``b_t = mu b_{t-1} + g_t / a_t`` and ``p_t = p_{t-1} - lr b_t`` with momentum
    ``mu > 0``, else ``p_t = p_{t-1} - lr g_t / a_t``.  The clamp at 0 is where
    PyTorch would produce NaN.
    """

    kernel = "rmsprop_step"
    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    buffers = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, **options):
        self.lr, self.alpha, self.eps, self.weight_decay = lr, alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered
        super().__init__(**options)

    def _buffer_names(self):
        return ("square_avg",) + (("momentum_buffer",) if self.momentum > 0 else ()) + (("grad_avg",) if self.centered else ())

    def _kernel_arguments(self):
        return dict(lr=_check_range("lr", self.lr, 0.0), alpha=_check_alpha(self.alpha),
                    eps=_check_range("eps", self.eps, 0.0), weight_decay=_check_range("weight_decay", self.weight_decay, 0.0),
                    momentum=_check_range("momentum", self.momentum, 0.0), centered=bool(self.centered))

    def _epoch_hyper(self):
        a = self._kernel_arguments()
        return "rmsprop", (a["lr"], a["alpha"], a["eps"], a["momentum"], float(a["centered"]))


class Adam(Optimizer):
    """Adam (PyTorch's rule), with optional AMSGrad.

    .. math::

        m_t = m_{t-1} + (1 - \\beta_1)(g_t - m_{t-1}), \\quad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2, \\\\
        p_t = p_{t-1} - \\frac{\\eta}{1 - \\beta_1^t} \\frac{m_t}{\\sqrt{v_t} / \\sqrt{1 - \\beta_2^t} + \\epsilon}

    with ``v_t`` replaced by ``max(v_1..v_t)`` under ``amsgrad``; ``weight_decay``
    adds ``weight_decay * p`` to ``g`` (L2).
    """

    kernel = "adam_step"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled_weight_decay = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, **options):
        self.lr, self.betas, self.eps, self.weight_decay, self.amsgrad = lr, betas, eps, weight_decay, amsgrad
        super().__init__(**options)

    def _buffer_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _kernel_arguments(self):
        try:
            beta1, beta2 = self.betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {self.betas!r}") from None
        return dict(lr=_check_range("lr", self.lr, 0.0), beta1=_check_range("beta1", beta1, 0.0, 1.0),
                    beta2=_check_range("beta2", beta2, 0.0, 1.0), eps=_check_range("eps", self.eps, 0.0),
                    weight_decay=_check_range("weight_decay", self.weight_decay, 0.0),
                    decoupled_weight_decay=self.decoupled_weight_decay, amsgrad=bool(self.amsgrad),
                    step=float(self.step_count + 1))

    def _epoch_hyper(self):
        a = self._kernel_arguments()
        return "adam", (a["lr"], a["beta1"], a["beta2"], a["eps"], float(a["amsgrad"]))


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's AdamW): ``p = p (1 - lr weight_decay)``
    before the moment updates, and no L2 term in the gradient; otherwise :class:`Adam`.
    """

    decoupled_weight_decay = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, **options):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, **options)
