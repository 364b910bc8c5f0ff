"""Input checks shared by the public API, with the messages users see.

The rules: float32 and float64 are kept as they are (X is never upcast),
integers and booleans become float64, anything else is a ``TypeError``.  Checks
are O(n) or O(d) at most; a pass over ``X`` to find non-finite values is made
only when a kernel's result is non-finite (:func:`raise_nonfinite_result`).
"""

import math
import numbers
import operator
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


MAX_THREADS = 2**31 - 1  # the kernels take n_threads as a C int


def _float_dtype_of(array, name):
    """The floating dtype ``array`` is computed in, or ``TypeError``."""
    dtype = array.dtype
    if dtype in FLOAT_DTYPES:
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} has unsupported dtype {dtype}; use float32 or float64 (integers and booleans are converted)")


def _native(array):
    """``array`` in the machine's byte order (big-endian data is converted, as NumPy's ufuncs do)."""
    if array.dtype.byteorder not in "=|":
        return array.astype(array.dtype.newbyteorder("="))
    return array


def as_float_array(value, name, *, ndim, dtype=None):
    """``value`` as a C-contiguous float array of ``ndim`` dimensions, in native byte order.

    With ``dtype=None`` float32/float64 are kept and integers become float64;
    otherwise the result is cast to ``dtype`` (``ValueError`` when a finite
    value overflows it).  Read-only arrays stay read-only views when no
    conversion is needed.
    """
    array = _native(np.asarray(value))
    target = _float_dtype_of(array, name)
    if dtype is not None:
        target = np.dtype(dtype)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got an array of shape {array.shape}")
    if array.dtype.itemsize > target.itemsize and array.dtype.kind == "f":
        _check_cast(array, name, target)
    return np.ascontiguousarray(array, dtype=target)


def _check_cast(array, name, target):
    """``ValueError`` when a finite value of ``array`` is beyond the range of ``target``."""
    with np.errstate(invalid="ignore"):
        largest = np.max(np.abs(array), initial=0.0)
    if np.isfinite(largest) and largest > np.finfo(target).max:
        raise ValueError(f"{name} has a value of magnitude {largest:.4g}, beyond the range of {target} "
                         f"(max {np.finfo(target).max:.4g}); scale it or use float64 data")


def check_X(X):
    """A 2-D float array with at least one sample; finiteness is checked lazily."""
    X = as_float_array(X, "X", ndim=2)
    if X.shape[0] == 0:
        raise ValueError(f"X has 0 samples (shape {X.shape}); at least one is required")
    return X


def check_finite(array, name, block_elements=1 << 20):
    """Raise ``ValueError`` naming ``array`` and its first bad entry if it holds NaN or infinity.

    An array of two or more dimensions is looked at ``block_elements`` entries of
    whole rows at a time: the mask of a block, not of the whole array, is allocated.
    """
    array = np.asarray(array)
    rows = max(1, block_elements // max(1, array[0].size)) if array.ndim >= 2 and len(array) else None
    blocks = [(0, array)] if rows is None else ((start, array[start:start + rows]) for start in range(0, len(array), rows))
    for start, block in blocks:
        if not np.isfinite(block).all():
            bad = np.unravel_index(np.flatnonzero(~np.isfinite(block.ravel()))[0], block.shape)
            index = (start + bad[0], *bad[1:]) if block.ndim else ()
            raise ValueError(non_finite_message(name, index))


def non_finite_message(name, index):
    """The message naming the first NaN or infinity of ``name``, at ``index`` (a tuple)."""
    return f"{name} contains NaN or infinity (first at index {tuple(int(i) for i in index)})"


def check_vector(value, name, *, length, dtype):
    """A finite 1-D array of ``length`` values, cast to ``dtype``."""
    vector = as_float_array(value, name, ndim=1, dtype=dtype)
    if vector.shape[0] != length:
        raise ValueError(f"{name} has {vector.shape[0]} entries, expected {length}")
    check_finite(vector, name)
    return vector


def check_scalar(value, name):
    """A finite real number as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_binary_labels(y):
    """Raise unless every label is 0 or 1."""
    if not ((y == 0) | (y == 1)).all():
        found = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise ValueError(f"y must hold labels 0 and 1 only for the logistic loss; found {found.tolist()}")


def check_sample_weight(sample_weight, *, length, dtype):
    """``None``, or finite non-negative weights with a positive sum, divided by the largest.

    The weighted mean ``sum s_i l_i / sum s_i`` does not change when every
    weight is scaled by one constant; dividing by the largest weight (in
    float64, before any cast to float32 or any sum) keeps that true for
    weights near the ends of the floating range (``1e306`` or ``5e-324``).
    """
    if sample_weight is None:
        return None
    weights = check_vector(sample_weight, "sample_weight", length=length, dtype=np.float64)
    if (weights < 0).any():
        raise ValueError(f"sample_weight must be non-negative; found {float(weights[weights < 0][0])!r}")
    largest = float(np.max(weights, initial=0.0))
    if largest == 0.0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return (weights / largest).astype(dtype)


def usable_cores():
    """Number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_n_threads(n_threads):
    """``None`` -> every usable core; otherwise a positive int."""
    if n_threads is None:
        return usable_cores()
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError("n_threads must be a positive int or None, got a bool")
    try:
        n_threads = operator.index(n_threads)
    except TypeError:
        raise TypeError(f"n_threads must be a positive int or None, got {type(n_threads).__name__}") from None
    if not 1 <= n_threads <= MAX_THREADS:
        raise ValueError(f"n_threads must be between 1 and {MAX_THREADS} or None, got {n_threads}")
    return n_threads


def raise_nonfinite_result(what, inputs):
    """Name the input that made ``what`` non-finite, or report an overflow.

    ``inputs`` maps names to arrays in the order they should be blamed.
    """
    for name, array in inputs.items():
        check_finite(array, name)
    raise ValueError(
        f"{what} is not finite although every input is: the values overflowed; "
        "scale the data or the coefficients"
    )


# ---- declared parameter constraints ------------------------------------------------------
#
# One way to check a parameter, wherever it lives: a list of constraints, any of
# which may admit the value (``None`` admits None), checked by
# :func:`check_parameter`.  Estimators declare ``_parameter_constraints`` (checked
# at ``fit``, scikit-learn's convention); optimizers and schedules declare
# :class:`Parameter` descriptors (checked in the constructor and on assignment).


class InvalidParameterError(ValueError, TypeError):
    """A parameter outside its declared constraints (both a ``ValueError`` and a ``TypeError``)."""


def _bound(value, closed):
    return f"{'[' if closed else '('}{value}" if closed is not None else value


class Interval:
    """Real or integral numbers between ``low`` and ``high`` (``None``: unbounded).

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; NaN is
    never admitted, and infinity only by a closed infinite bound.
    """

    def __init__(self, kind, low, high, *, closed):
        self.kind, self.closed = kind, closed
        self.low = -math.inf if low is None else low
        self.high = math.inf if high is None else high

    def admit(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if self.kind is numbers.Integral:
            value = operator.index(value)
        elif math.isnan(value):
            return False
        low_ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        high_ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return low_ok and high_ok

    def convert(self, value):
        return int(value) if self.kind is numbers.Integral else float(value)

    def __str__(self):
        kind = "an int" if self.kind is numbers.Integral else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{kind} in the range {left}{self.low:g}, {self.high:g}{right}"


class Options:
    """One of the given values (strings, usually)."""

    def __init__(self, *values):
        self.values = values

    def admit(self, value):
        return isinstance(value, str) and value in self.values

    def convert(self, value):
        return value

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)


class Boolean:
    """``True`` or ``False`` (NumPy booleans too)."""

    def admit(self, value):
        return isinstance(value, (bool, np.bool_))

    def convert(self, value):
        return bool(value)

    def __str__(self):
        return "a bool"


class InstanceOf:
    """An instance of ``cls``, or a callable when ``cls`` is ``callable``."""

    def __init__(self, cls, description):
        self.cls, self.description = cls, description

    def admit(self, value):
        return callable(value) if self.cls is callable else isinstance(value, self.cls)

    def convert(self, value):
        return value

    def __str__(self):
        return self.description


class PairOf:
    """A pair (tuple or list of two) whose items each satisfy ``item``; stored as a tuple."""

    def __init__(self, item):
        self.item = item

    def admit(self, value):
        return isinstance(value, (tuple, list)) and len(value) == 2 and all(self.item.admit(v) for v in value)

    def convert(self, value):
        return tuple(self.item.convert(v) for v in value)

    def __str__(self):
        return f"a pair of which each is {self.item}"


def check_parameter(owner, name, value, constraints):
    """``value`` converted by the first of ``constraints`` that admits it, else
    :class:`InvalidParameterError` naming the parameter, the value and what is allowed."""
    for constraint in constraints:
        if constraint is None:
            if value is None:
                return None
        elif constraint.admit(value):
            return constraint.convert(value)
    allowed = " or ".join("None" if c is None else str(c) for c in constraints)
    raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {allowed}; got {value!r}.")


class Parameter:
    """A validated attribute: ``value`` is checked against ``constraints`` on every assignment.

    The owner may define ``_parameter_changed(name)`` to hear of a change (an
    optimizer repacks its kernel hyper-parameters there).
    """

    def __init__(self, default, *constraints):
        self.default, self.constraints = default, constraints

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = check_parameter(type(obj).__name__, self.name, value, self.constraints)
        changed = getattr(obj, "_parameter_changed", None)
        if changed is not None:
            changed(self.name)


def declared_parameters(cls):
    """``{name: Parameter}`` of ``cls`` and its bases, in declaration order (bases first)."""
    found = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[name] = value
    return found


def validate_parameters(owner, values, constraints):
    """Check every entry of ``values`` against ``constraints[name]``; return the converted dict."""
    return {name: check_parameter(owner, name, value, constraints[name]) for name, value in values.items()}


NON_NEGATIVE = Interval(numbers.Real, 0, None, closed="left")
POSITIVE = Interval(numbers.Real, 0, None, closed="neither")
