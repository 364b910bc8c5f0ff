"""Checked kernels: what the public :func:`fastgd.get_backend` hands out.

A raw kernel trusts its arguments (``_spec``: kernels never validate), so a
short output buffer is written out of bounds and a bad row index reads outside
``X``.  The wrappers here check every argument first -- each array's type,
dtype, dimensions, lengths, contiguity and writeability, and each option's
range -- in O(1) per array (plus one pass over ``order``), then call the raw
kernel.  fastgd's own code calls the raw kernels (:func:`fastgd.backends.raw_kernels`)
after checking its inputs once per fit.

The shapes below use symbols: ``n`` rows (or elements), ``d`` features,
``p`` = d + 1 parameters, ``k`` state rows, ``s`` scalars, ``h`` hyper-parameters.
A symbol takes its size from the first array that has it; every other array
with the symbol must agree.  "data" arrays share one dtype, float32 or float64.
"""

import functools
import inspect
import math
import numbers
import types

import numpy as np

from fastgd.backends import _spec

DATA, FLOAT64, INT64 = "data", np.dtype(np.float64), np.dtype(np.int64)

# kernel -> {argument: (dims, dtype rule, written, optional)}
_ARRAYS = {
    "sigmoid": {"z": (("n",), DATA, False, False), "out": (("n",), DATA, True, False)},
    "log1pexp": {"z": (("n",), DATA, False, False), "out": (("n",), DATA, True, False)},
    "linear_predict": {"X": (("n", "d"), DATA, False, False), "w": (("d",), DATA, False, False),
                       "out": (("n",), DATA, True, False)},
    "logistic_loss_grad": {"X": (("n", "d"), DATA, False, False), "y": (("n",), DATA, False, False),
                           "w": (("d",), DATA, False, False), "sample_weight": (("n",), DATA, False, True),
                           "grad_w": (("d",), DATA, True, False)},
    "squared_norm": {"g": (("n",), DATA, False, False)},
    "optimizer_update": {"p": (("n",), DATA, True, False), "g": (("n",), DATA, False, False),
                         "state": (("k", "n"), DATA, True, False), "scalars": (("s",), FLOAT64, True, False),
                         "hyper": (("h",), FLOAT64, False, False)},
    "minibatch_epoch": {"X": (("n", "d"), DATA, False, False), "y": (("n",), DATA, False, False),
                        "sample_weight": (("n",), DATA, False, True), "order": (("n",), INT64, False, False),
                        "params": (("p",), DATA, True, False), "state": (("k", "p"), DATA, True, False),
                        "scalars": (("s",), FLOAT64, True, False), "grad_mean": (("p",), FLOAT64, True, False),
                        "hyper": (("h",), FLOAT64, False, False), "intercept_hyper": (("h",), FLOAT64, False, False)},
}
_ARRAYS["squared_loss_grad"] = _ARRAYS["logistic_loss_grad"]
_ARRAYS["softmax_loss_grad"] = {
    "X": (("n", "d"), DATA, False, False), "y": (("n",), DATA, False, False), "W": (("d", "c"), DATA, False, False),
    "b": (("c",), DATA, False, False), "sample_weight": (("n",), DATA, False, True),
    "grad_W": (("d", "c"), DATA, True, False), "grad_b": (("c",), DATA, True, False)}
_ARRAYS["network_epoch"] = {
    "X": (("n", "d"), DATA, False, False), "y": (("n", "t"), DATA, False, False),
    "sample_weight": (("n",), DATA, False, True), "order": (("n",), INT64, False, False),
    "params": (("p",), DATA, True, False), "state": (("k", "p"), DATA, True, False),
    "scalars": (("s",), FLOAT64, True, False), "grad_mean": (("p",), FLOAT64, True, False),
    "active": (("u",), np.dtype(np.uint8), True, False), "sizes": (("L",), INT64, False, False),
    "hyper": (("h",), FLOAT64, False, False), "intercept_hyper": (("h",), FLOAT64, False, False)}


def _fail(kernel, message, error=ValueError):
    raise error(f"{kernel}: {message}")


def _check_array(kernel, name, array, dims, rule, written, sizes, dtypes):
    if not isinstance(array, np.ndarray):
        _fail(kernel, f"{name} must be a numpy.ndarray, got {type(array).__name__}", TypeError)
    expected = dtypes.setdefault(DATA, array.dtype) if rule == DATA else rule
    if rule == DATA and array.dtype not in (np.dtype(np.float32), FLOAT64):
        _fail(kernel, f"{name} must be float32 or float64, got {array.dtype}", TypeError)
    if array.dtype != expected:
        _fail(kernel, f"{name} must have dtype {expected} (as the other arrays), got {array.dtype}", TypeError)
    if array.ndim != len(dims):
        _fail(kernel, f"{name} must be {len(dims)}-dimensional, got shape {array.shape}")
    for symbol, size in zip(dims, array.shape):
        if sizes.setdefault(symbol, size) != size:
            _fail(kernel, f"{name} has shape {array.shape}: its {symbol} = {size} differs from {sizes[symbol]}")
    if not array.flags.c_contiguous:
        _fail(kernel, f"{name} must be C-contiguous")
    if written and not array.flags.writeable:
        _fail(kernel, f"{name} is written and must be writeable")


def _check_int(kernel, name, value, low, high):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(kernel, f"{name} must be an int, got {type(value).__name__}", TypeError)
    if not low <= value <= high:
        _fail(kernel, f"{name} must be between {low} and {high}, got {value}")


def _check_real(kernel, name, value, *, low=-math.inf, positive=False, infinite=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(kernel, f"{name} must be a real number, got {type(value).__name__}", TypeError)
    value = float(value)
    finite_enough = math.isfinite(value) or (infinite and value == math.inf)
    if not finite_enough or value < low or (positive and value <= 0):
        allowed = ("> 0" if positive else f">= {low}") + (" or inf" if infinite else ", finite")
        _fail(kernel, f"{name} must be {allowed}, got {value}")


def _check_optimizer(kernel, code, sizes):
    """The declared layout of optimizer ``code``: hyper length, state rows, scalars."""
    from fastgd import optim

    declared = {cls.code: cls for cls in vars(optim).values()
                if isinstance(cls, type) and issubclass(cls, optim.Optimizer) and cls.code is not None}
    _check_int(kernel, "the optimizer code", code, min(declared), max(declared))
    cls = declared[code]
    if sizes["h"] != len(cls.kernel_slots):
        _fail(kernel, f"{cls.__name__} (code {code}) takes {len(cls.kernel_slots)} hyper-parameters "
                      f"{cls.kernel_slots}, got {sizes['h']}")
    if sizes["k"] < max(len(cls.buffers), 1):
        _fail(kernel, f"{cls.__name__} needs {max(len(cls.buffers), 1)} state rows, got {sizes['k']}")
    if sizes["s"] != len(cls.scalars):
        _fail(kernel, f"{cls.__name__} has {len(cls.scalars)} scalars, got {sizes['s']}")


def _check_options(kernel, args, sizes):
    """The non-array arguments of ``kernel``."""
    _check_int(kernel, "n_threads", args["n_threads"], 1, 2**31 - 1)
    if "b" in args and kernel != "softmax_loss_grad":  # there b is an array of intercepts
        _check_real(kernel, "b", args["b"])
    if "clip_value" in args:
        _check_real(kernel, "clip_value", args["clip_value"], positive=True, infinite=True)
    if kernel == "optimizer_update":
        _check_optimizer(kernel, args["code"], sizes)
        _check_int(kernel, "step", args["step"], 1, 2**62)
        _check_real(kernel, "grad_scale", args["grad_scale"], low=0.0)
    if kernel == "softmax_loss_grad":
        if sizes["c"] < 2:
            _fail(kernel, f"W must have at least 2 columns (classes), got {sizes['c']}")
        labels = args["y"]
        if labels.size and not (np.all(labels == np.floor(labels)) and labels.min() >= 0 and labels.max() < sizes["c"]):
            _fail(kernel, f"y must hold class indices 0 .. {sizes['c'] - 1}")
    if kernel == "network_epoch":
        _check_network(kernel, args, sizes)
    if kernel in ("minibatch_epoch", "network_epoch"):
        _check_epoch_options(kernel, args, sizes)


def _check_network(kernel, args, sizes):
    """The layer widths against the data, the parameters and the codes of ``_spec``."""
    widths = args["sizes"]
    if len(widths) < 2 or (widths < 1).any() or widths[0] != sizes["d"]:
        _fail(kernel, f"sizes must be positive layer widths starting with d = {sizes['d']}, got {widths.tolist()}")
    n_params = int(np.sum(widths[:-1] * widths[1:]) + np.sum(widths[1:]))
    if sizes["p"] != n_params or sizes["u"] != int(np.sum(widths[1:-1])):
        _fail(kernel, f"params must have {n_params} entries and active {int(np.sum(widths[1:-1]))}")
    _check_int(kernel, "activation", args["activation"], 0, len(_spec.ACTIVATION_CODES) - 1)
    _check_int(kernel, "output", args["output"], 0, len(_spec.OUTPUT_CODES) - 1)
    output_width = 1 if args["output"] != _spec.OUTPUT_CODES["identity"] else int(widths[-1])
    if sizes["t"] != output_width:
        _fail(kernel, f"y must have {output_width} columns for this output, got {sizes['t']}")
    if args["output"] != _spec.OUTPUT_CODES["identity"] and args["y"].size:
        labels, top = args["y"], 1 if args["output"] == _spec.OUTPUT_CODES["logistic"] else int(widths[-1]) - 1
        if not (np.all(labels == np.floor(labels)) and labels.min() >= 0 and labels.max() <= top):
            _fail(kernel, f"y must hold labels 0 .. {top}")


def _check_epoch_options(kernel, args, sizes):
    """The options both training kernels share."""
    if kernel == "minibatch_epoch" and sizes["p"] != sizes["d"] + 1:
        _fail(kernel, f"params must have d + 1 = {sizes['d'] + 1} entries, got {sizes['p']}")
    _check_optimizer(kernel, args["optimizer"], sizes)
    if kernel == "minibatch_epoch":
        _check_int(kernel, "loss", args["loss"], min(_spec.LOSS_CODES.values()), max(_spec.LOSS_CODES.values()))
    _check_int(kernel, "step", args["step"], 0, 2**62)
    _check_int(kernel, "batch_size", args["batch_size"], 1, 2**62)
    _check_real(kernel, "alpha", args["alpha"], low=0.0)
    _check_real(kernel, "clip_norm", args["clip_norm"], positive=True, infinite=True)
    order = args["order"]
    if order.size and (order.min() < 0 or order.max() >= sizes["n"]):
        _fail(kernel, f"order must hold row indices in [0, {sizes['n']}), got {order.min()}..{order.max()}")


def checked(kernel, raw):
    """``raw`` (the kernel named ``kernel`` of some backend) behind the checks of its arguments."""
    signature = inspect.signature(getattr(_spec, kernel))

    @functools.wraps(getattr(_spec, kernel))
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{kernel}: {error}") from None
        sizes, dtypes = {}, {}
        for name, (dims, rule, written, optional) in _ARRAYS[kernel].items():
            if optional and bound.arguments[name] is None:
                continue
            _check_array(kernel, name, bound.arguments[name], dims, rule, written, sizes, dtypes)
        _check_options(kernel, bound.arguments, sizes)
        return raw(*bound.args, **bound.kwargs)

    return wrapper


def checked_backend(backend):
    """A namespace of the checked kernels of ``backend`` (a raw kernel namespace)."""
    return types.SimpleNamespace(name=backend.name,
                                 **{kernel: checked(kernel, getattr(backend, kernel)) for kernel in _spec.KERNELS})
