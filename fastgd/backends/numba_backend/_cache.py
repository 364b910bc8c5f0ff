"""Where the Numba kernels keep their compiled code: a per-user cache, never the package.

Numba's ``cache=True`` writes ``.nbi``/``.nbc`` files into ``__pycache__`` next
to the source, that is inside site-packages once fastgd is installed: that
directory may be read-only, and the files would outlive ``pip uninstall``.  The
kernels are therefore decorated with :func:`fastgd_njit`, which gives each of
fastgd's dispatchers its own cache object.  It stores the files in the first
writable of:

1. ``NUMBA_CACHE_DIR``, when the user set it (Numba's own setting, honoured);
2. ``$FASTGD_CACHE_DIR/numba/<fastgd version>/<install>`` when
   ``FASTGD_CACHE_DIR`` is set, else the same under ``<user cache>/fastgd``:
   ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
   ``%LOCALAPPDATA%`` on Windows.  ``<install>`` is a short hash of the
   package's path, so that two installations never share index files.

Numba's settings and locator list are left alone (``NUMBA_CACHE_LOCATOR_CLASSES``
is not consulted for fastgd, as it could point back into the package), so the
user's own ``@njit(cache=True)`` functions cache exactly as before.  When no
location is writable the kernels still work, compiled in every process, and
one warning per process says so.  :func:`cache_dir` tells which directory is
used.
"""

import contextlib
import functools
import hashlib
import inspect
import os
import sys
import warnings

import numba
from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator, _SourceFileBackedLocatorMixin

try:
    from numba.core.caching import UserProvidedCacheLocator
except ImportError:  # older Numba: the locators had a leading underscore
    from numba.core.caching import _UserProvidedCacheLocator as UserProvidedCacheLocator

from fastgd._version import __version__

ENV_VAR = "FASTGD_CACHE_DIR"
_BACKEND_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(os.path.dirname(_BACKEND_DIR))  # the installed ``fastgd`` directory
_warned = False


def _warn_once(message):
    """Warn about the cache at most once per process: kernels work either way."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"fastgd's Numba kernels are not cached on disk ({message}); every process compiles "
                      f"them again. Set {ENV_VAR} to a writable directory.", stacklevel=3)


def _user_cache_base():
    """The platform's per-user cache directory, or None when it cannot be told."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:  # the XDG spec: a relative XDG_CACHE_HOME is invalid and ignored
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    return base if os.path.isabs(base) else None  # "~" stays unexpanded without a home


def _fastgd_cache_path():
    """``<root>/numba/<version>/<install>`` (see the module docstring), or None."""
    root = os.environ.get(ENV_VAR, "")
    if root:
        root = os.path.abspath(os.path.expanduser(root))
    else:
        base = _user_cache_base()
        if base is None:
            return None
        root = os.path.join(base, "fastgd")
    install = hashlib.sha256(os.path.realpath(_PACKAGE_DIR).encode()).hexdigest()[:12]
    return os.path.join(root, "numba", __version__, install)


@functools.lru_cache(maxsize=None)
def _backend_stamp():
    """A hash of every source file of the Numba backend.

    Kernels link helpers from sibling modules (the epoch calls the loss and
    update kernels), which Numba's stamp of the kernel's own file does not see:
    with this stamp, an edit to any backend file makes every entry stale.
    """
    digest = hashlib.sha256()
    for name in sorted(os.listdir(_BACKEND_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(_BACKEND_DIR, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.digest()


class _BackendStampMixin:
    """Date a cache entry by the whole backend's sources (see :func:`_backend_stamp`)."""

    def get_source_stamp(self):
        return _backend_stamp()


class _UserProvidedLocator(_BackendStampMixin, UserProvidedCacheLocator):
    """Numba's ``NUMBA_CACHE_DIR`` locator, with the backend-wide stamp."""


class _FastgdCacheLocator(_BackendStampMixin, _SourceFileBackedLocatorMixin, _CacheLocator):
    """fastgd's per-user, per-installation cache directory (see the module docstring)."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = _fastgd_cache_path()

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        """The locator if its directory can be created and written to, else None."""
        if _fastgd_cache_path() is None:
            return None
        return super().from_function(py_func, py_file)


def _find_locator(locator_classes, py_func, source_path):
    """The first of ``locator_classes`` with a writable directory for ``py_func``, or None."""
    for locator_class in locator_classes:
        locator = locator_class.from_function(py_func, source_path)
        if locator is not None:
            return locator
    return None


class _FastgdCacheImpl(CompileResultCacheImpl):
    """Numba's compile-result cache with fastgd's locators only."""

    _locator_classes = [_UserProvidedLocator, _FastgdCacheLocator]

    def __init__(self, py_func):
        """As ``CacheImpl.__init__``, minus ``NUMBA_CACHE_LOCATOR_CLASSES``, which
        could name the in-tree locator and so write into the package."""
        source_path = inspect.getfile(py_func)
        self._lineno = py_func.__code__.co_firstlineno
        self._locator = _find_locator(self._locator_classes, py_func, source_path)
        if self._locator is None:
            raise RuntimeError(f"no writable cache directory; tried {_fastgd_cache_path()}")
        modname = os.path.splitext(os.path.basename(source_path))[0]
        fullname = f"{modname}.{py_func.__qualname__}"
        self._filename_base = self.get_filename_base(fullname, getattr(sys, "abiflags", ""))


class _FastgdFunctionCache(FunctionCache):
    """A dispatcher's cache in fastgd's locations; an I/O error means no cache, not a crash."""

    _impl_class = _FastgdCacheImpl

    @contextlib.contextmanager
    def _guard_against_spurious_io_errors(self):
        """Numba wraps every load and save in this, and ignores only Windows' EACCES:
        here any I/O error means that the kernel is compiled, or not saved."""
        try:
            yield
        except OSError as exc:
            _warn_once(f"{type(exc).__name__}: {exc}")


def fastgd_njit(**options):
    """``numba.njit(**options)`` whose dispatcher caches in fastgd's directory.

    Use it instead of ``njit(cache=True, ...)``: ``cache=True`` would install
    Numba's default locators, the first writable of which is the package's
    ``__pycache__``.  The cache is attached as ``Dispatcher.enable_caching``
    does, only with :class:`_FastgdFunctionCache`.
    """
    if "cache" in options:
        raise TypeError("fastgd_njit always caches (in fastgd's directory); do not pass cache=")

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if hasattr(dispatcher, "py_func"):  # not the plain function of NUMBA_DISABLE_JIT=1
            try:
                dispatcher._cache = _FastgdFunctionCache(dispatcher.py_func)
            except (RuntimeError, OSError) as exc:
                _warn_once(str(exc))
        return dispatcher

    return decorate


def cache_dir():
    """The directory the Numba kernels are cached in (created if missing), or
    None when no location is writable and each process compiles them again."""
    locator = _find_locator(_FastgdCacheImpl._locator_classes, cache_dir, __file__)
    return None if locator is None else locator.get_cache_path()
