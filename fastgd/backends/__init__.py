"""Backend registry: which kernel implementations exist, load, and are chosen.

Three backends implement the same kernels (:mod:`fastgd.backends._spec`):

* ``"cython"`` -- compiled ahead of time (``fastgd_core``), no JIT delay;
* ``"numba"`` -- compiled just in time on first use, cached on disk;
* ``"numpy"`` -- the pure NumPy reference, always available.

The default is the first available one in that order, unless
:func:`set_backend` or the ``FASTGD_BACKEND`` environment variable says
otherwise.  Backends are imported lazily, so ``import fastgd`` stays fast.
"""

import importlib
import importlib.util
import os
import types

from fastgd.backends._spec import KERNELS

__all__ = ["available_backends", "backend_errors", "get_backend", "raw_kernels", "set_backend", "BACKEND_ORDER"]

BACKEND_ORDER = ("cython", "numba", "numpy")
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
    """Names of the backends that load here, fastest first."""
    return [name for name in BACKEND_ORDER if _load(name) is not None]


def backend_errors():
    """``{name: reason}`` for every backend that failed to load."""
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
    """The raw kernels of backend ``name`` (default: the current backend), for fastgd's
    own use after it has checked its inputs: they trust their arguments (see ``_spec``).

    Raises ``ValueError`` for an unknown name and ``ImportError`` (with the
    reason) for a backend that cannot load here.
    """
    if name is None:
        name = _default_name()
    _check_name(name)
    backend = _load(name)
    if backend is None:
        raise ImportError(f"backend {name!r} is not available: {_errors[name]}")
    return backend


def get_backend(name=None):
    """The kernels of backend ``name`` (default: the current backend), each checking its
    arguments before it runs.

    The result is a namespace holding the ``_spec`` kernels and the backend's
    ``name``.  A kernel called with a wrong dtype, shape, length, a read-only
    output or an option out of range raises ``TypeError``/``ValueError``
    naming it, never writes out of bounds.  Raises ``ValueError`` for an
    unknown name and ``ImportError`` for a backend that cannot load here.
    """
    backend = raw_kernels(name)
    if backend.name not in _checked_kernels:
        from fastgd.backends._checked import checked_backend

        _checked_kernels[backend.name] = checked_backend(backend)
    return _checked_kernels[backend.name]


def set_backend(name):
    """Make ``name`` the default backend (``None`` restores the automatic choice)."""
    global _chosen
    if name is not None:
        raw_kernels(name)
    _chosen = name
