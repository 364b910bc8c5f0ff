"""Backend registry: which kernel implementations exist, load, and are chosen.

Three backends implement the same kernels (their contract, names, signatures
and formulas, is fastgd.backends._spec):

* "cython" -- compiled ahead of time (fastgd_core), no JIT delay;
* "numba" -- compiled just in time on first use, cached on disk;
* "numpy" -- the pure NumPy reference, always available.

The default is the first available one in that order, unless set_backend or
the FASTGD_BACKEND environment variable says otherwise.  Backends are
imported lazily, so ``import fastgd`` stays fast.  Every function, optimizer
and estimator also takes ``backend=`` for a single call.

>>> import fastgd
>>> "numpy" in fastgd.available_backends()
True
"""

import importlib
import importlib.util
import os
import types

from fastgd.backends._spec import KERNELS

# raw_kernels and BACKEND_ORDER are for fastgd's own modules (imported by name), not public.
__all__ = ["available_backends", "backend_errors", "get_backend", "set_backend"]

BACKEND_ORDER = ("cython", "numba", "numpy")  # the default order: fastest first
_MODULES = {
    "cython": "fastgd.backends.cython_backend",
    "numba": "fastgd.backends.numba_backend",
    "numpy": "fastgd.backends.reference",
}
ENV_VAR = "FASTGD_BACKEND"

_loaded = {}
_checked_kernels = {}
_errors = {}
_chosen = None


def _check_name(name):
    if not isinstance(name, str) or name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKEND_ORDER)}")


def _load(name):
    """Import backend ``name`` once; return its namespace or None (the reason kept).

    A backend that cannot be imported here (a missing build or package) is
    unavailable; one that imports but lacks a kernel of the contract is a bug,
    reported at once.
    """
    if name in _loaded:
        return _loaded[name]
    if name in _errors:
        return None
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        _errors[name] = f"{type(exc).__name__}: {exc}{_unbuilt_source_hint() if name == 'cython' else ''}"
        return None
    missing = [kernel for kernel in KERNELS if not hasattr(module, kernel)]
    if missing:
        raise RuntimeError(f"backend {name!r} breaks the kernel contract of fastgd.backends._spec: it lacks {missing}")
    _loaded[name] = types.SimpleNamespace(name=name, **{kernel: getattr(module, kernel) for kernel in KERNELS})
    return _loaded[name]


def _unbuilt_source_hint():
    """Why the compiled backend is missing when fastgd runs from a source folder that was never built."""
    spec = importlib.util.find_spec("fastgd_core")
    folder = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
    if folder is None or not os.path.exists(os.path.join(folder, "losses.pyx")):
        return ""
    return (f" (fastgd_core was imported from the source folder {os.path.dirname(folder)}, which has no compiled "
            "extension: the current folder comes first on sys.path; run from another folder or with "
            "'python -P -m fastgd', or build in place with 'python setup.py build_ext --inplace')")


def available_backends():
    """List the backends that load here, fastest first.

    The first one is the default unless set_backend or FASTGD_BACKEND chose
    another.  Loading a backend imports it (Numba's kernels compile later, on
    first use).

    Returns
    -------
    list of str
        Names among "cython", "numba" and "numpy", in that order; "numpy" is
        always there.

    See Also
    --------
    backend_errors : Why the others do not load.
    get_backend : A backend's kernels.

    Examples
    --------
    >>> import fastgd
    >>> backends = fastgd.available_backends()
    >>> backends[-1]
    'numpy'
    """
    return [name for name in BACKEND_ORDER if _load(name) is not None]


def backend_errors():
    """Tell why each backend that does not load here failed.

    Returns
    -------
    dict of str to str
        {backend name: the import error, with a hint for an unbuilt source
        folder}; empty when every backend loads.

    See Also
    --------
    available_backends : The backends that load.

    Examples
    --------
    >>> import fastgd
    >>> errors = fastgd.backend_errors()
    >>> sorted(set(errors) | set(fastgd.available_backends()))
    ['cython', 'numba', 'numpy']
    """
    available_backends()
    return dict(_errors)


def _default_name():
    if _chosen is not None:
        return _chosen
    from_env = os.environ.get(ENV_VAR, "").strip().lower()
    if from_env:
        _check_name(from_env)
        return from_env
    return available_backends()[0]


def raw_kernels(name=None):
    """Return the raw kernels of a backend, for fastgd's own use after it has checked its inputs.

    They trust their arguments (see fastgd.backends._spec): a wrong shape or
    dtype may read or write out of bounds.  Users call get_backend instead.

    Parameters
    ----------
    name : {"cython", "numba", "numpy"} or None, default None
        The backend; None: the current default.

    Returns
    -------
    types.SimpleNamespace
        The backend's ``name`` and its kernels.

    Raises
    ------
    ValueError
        If ``name`` is not a backend's name.
    ImportError
        If the backend cannot load here (the message says why).
    """
    if name is None:
        name = _default_name()
    _check_name(name)
    backend = _load(name)
    if backend is None:
        raise ImportError(f"backend {name!r} is not available: {_errors[name]}")
    return backend


def get_backend(name=None):
    """Return the kernels of a backend, each checking its arguments before it runs.

    The kernels are those of the contract, fastgd.backends._spec, with its
    signatures: inputs, then caller-provided outputs, then keyword-only
    options and ``n_threads``.  They never allocate.  A kernel called with a
    wrong dtype, shape or length, a read-only output or an option out of
    range raises TypeError or ValueError naming it, and never writes out of
    bounds; the checks cost O(1).

    Parameters
    ----------
    name : {"cython", "numba", "numpy"} or None, default None
        The backend; None: the current default (see set_backend).

    Returns
    -------
    types.SimpleNamespace
        The backend's ``name`` and one function per kernel.

    Raises
    ------
    ValueError
        If ``name`` is not a backend's name.
    ImportError
        If the backend cannot load here (the message says why).

    See Also
    --------
    available_backends : The backends that load here.
    set_backend : Change the default.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgd
    >>> kernels = fastgd.get_backend("numpy")
    >>> out = np.empty(2)
    >>> kernels.sigmoid(np.array([0.0, 1.0]), out, n_threads=1)
    >>> out
    array([0.5       , 0.73105858])
    >>> kernels.sigmoid(np.array([0.0, 1.0]), np.empty(3), n_threads=1)
    Traceback (most recent call last):
    ...
    ValueError: sigmoid: out has shape (3,): its n = 3 differs from 2
    """
    backend = raw_kernels(name)
    if backend.name not in _checked_kernels:
        from fastgd.backends._checked import checked_backend

        _checked_kernels[backend.name] = checked_backend(backend)
    return _checked_kernels[backend.name]


def set_backend(name):
    """Make a backend the default for this process.

    It takes precedence over the FASTGD_BACKEND environment variable.  An
    explicit ``backend=`` argument still wins for its call.

    Parameters
    ----------
    name : {"cython", "numba", "numpy"} or None
        The backend; None restores the automatic choice (FASTGD_BACKEND,
        else the first available backend).

    Raises
    ------
    ValueError
        If ``name`` is not a backend's name.
    ImportError
        If the backend cannot load here; the default is then unchanged.

    See Also
    --------
    get_backend : The default backend's kernels, with no name.
    available_backends : The names that can be set here.

    Examples
    --------
    >>> import fastgd
    >>> fastgd.set_backend("numpy")
    >>> fastgd.get_backend().name
    'numpy'
    >>> fastgd.set_backend(None)
    """
    global _chosen
    if name is not None:
        raw_kernels(name)
    _chosen = name
