"""The Numba backend's on-disk cache: in a per-user directory, never in the package.

The subprocess tests run a read-only copy of the installed package, as
site-packages may be, and call two small kernels only (compiling every kernel
takes a minute).  Each sets or removes every cache variable itself, since CI
sets ``NUMBA_CACHE_DIR`` for the whole run.
"""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

numba_backend = pytest.importorskip("fastgd.backends.numba_backend")

from fastgd._version import __version__  # noqa: E402
from fastgd.backends.numba_backend import _cache  # noqa: E402

CACHE_VARS = ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "FASTGD_CACHE_DIR", "XDG_CACHE_HOME")

# Calls sigmoid and squared_norm, checks their values, prints the cache's state.
SCRIPT = """
import json, math
import numpy as np
import fastgd
from fastgd.backends import numba_backend
from fastgd.backends.numba_backend import losses, optim

kernels = fastgd.backends.get_backend("numba")
z = np.array([-2.0, 0.0, 3.0])
out = np.empty_like(z)
kernels.sigmoid(z, out, n_threads=1)
assert np.allclose(out, 1 / (1 + np.exp(-z))), out
assert kernels.squared_norm(z, clip_value=1.0, n_threads=1) == (13.0, 2.0)
used = (losses._sigmoid_range, optim._squared_norm_range)
print(json.dumps({
    "cache_dir": numba_backend.cache_dir(),
    "hits": sum(sum(k.stats.cache_hits.values()) for k in used),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in used),
}))
"""


@pytest.fixture
def installed_copy(tmp_path):
    """A read-only copy of the imported ``fastgd`` (and ``fastgd_core``), without caches."""
    import fastgd

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastgd.__file__)))
    copy = tmp_path / "site-packages"
    for package in ("fastgd", "fastgd_core"):
        if os.path.isdir(os.path.join(root, package)):
            shutil.copytree(os.path.join(root, package), copy / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    _set_writable(copy, False)
    yield copy
    _set_writable(copy, True)  # so that pytest can remove it


def _set_writable(tree, writable):
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~bits)


def _numba_files(tree):
    """Every Numba cache file under ``tree`` (tests may run as root, whom chmod does not stop)."""
    return sorted(str(p) for pattern in ("*.nbi", "*.nbc") for p in tree.rglob(pattern))


def _run(package_root, tmp_path, code=SCRIPT, **cache_env):
    """Run ``code`` in a fresh Python on ``package_root`` with exactly the given cache variables."""
    env = {key: value for key, value in os.environ.items() if key not in CACHE_VARS}
    env.update({key: str(value) for key, value in cache_env.items()})
    env.update(PYTHONPATH=str(package_root), PYTHONDONTWRITEBYTECODE="1")
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def _report(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------ in process


def test_cache_path_under_fastgd_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTGD_CACHE_DIR", str(tmp_path))
    path = _cache._fastgd_cache_path()
    assert os.path.dirname(path) == os.path.join(str(tmp_path), "numba", __version__)


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG_CACHE_HOME is the Linux convention")
def test_cache_path_follows_xdg_and_ignores_a_relative_one(monkeypatch, tmp_path):
    monkeypatch.delenv("FASTGD_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache._fastgd_cache_path().startswith(os.path.join(str(tmp_path), "fastgd", "numba", ""))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache._fastgd_cache_path().startswith(os.path.join(str(tmp_path), "home", ".cache", "fastgd", ""))


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="no dispatchers without the JIT")
def test_every_kernel_uses_the_fastgd_cache():
    """No kernel went back to ``njit(cache=True)``, which caches inside the package."""
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    from fastgd.backends.numba_backend import losses, optim, training

    dispatchers = [obj for module in (losses, optim, training) for obj in vars(module).values()
                   if isinstance(obj, Dispatcher)]
    assert len(dispatchers) > 20
    for dispatcher in dispatchers:
        assert isinstance(dispatcher._cache, (_cache._FastgdFunctionCache, NullCache)), dispatcher


def test_fastgd_njit_refuses_cache_option():
    with pytest.raises(TypeError, match="cache"):
        _cache.fastgd_njit(cache=True)


# ------------------------------------------------------------ subprocesses


@pytest.mark.slow
@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG_CACHE_HOME is the Linux convention")
def test_read_only_install_caches_in_user_dir_and_second_process_reuses_it(installed_copy, tmp_path):
    xdg = tmp_path / "xdg"
    first = _report(_run(installed_copy, tmp_path, XDG_CACHE_HOME=xdg))
    assert first["misses"] > 0
    assert first["cache_dir"].startswith(os.path.join(str(xdg), "fastgd", "numba", __version__, ""))
    assert any(name.endswith(".nbi") for name in os.listdir(first["cache_dir"]))
    assert _numba_files(installed_copy) == []

    second = _report(_run(installed_copy, tmp_path, XDG_CACHE_HOME=xdg))
    assert second["hits"] > 0 and second["misses"] == 0, second
    assert _numba_files(installed_copy) == []


@pytest.mark.slow
def test_numba_cache_dir_takes_precedence(installed_copy, tmp_path):
    numba_dir, fastgd_dir = tmp_path / "numba-cache", tmp_path / "fastgd-cache"
    report = _report(_run(installed_copy, tmp_path, NUMBA_CACHE_DIR=numba_dir, FASTGD_CACHE_DIR=fastgd_dir))
    assert report["cache_dir"].startswith(str(numba_dir))
    assert _numba_files(numba_dir) != []
    assert _numba_files(fastgd_dir) == []
    assert _numba_files(installed_copy) == []


@pytest.mark.slow
def test_numba_locator_override_cannot_write_into_the_package(installed_copy, tmp_path):
    fastgd_dir = tmp_path / "fastgd-cache"
    _run(installed_copy, tmp_path, NUMBA_CACHE_LOCATOR_CLASSES="InTreeCacheLocator", FASTGD_CACHE_DIR=fastgd_dir)
    assert _numba_files(installed_copy) == []
    assert _numba_files(fastgd_dir) != []


@pytest.mark.slow
def test_users_own_njit_functions_still_cache_in_tree(installed_copy, tmp_path):
    user_dir = tmp_path / "user_code"
    user_dir.mkdir()
    (user_dir / "user_module.py").write_text(
        "from numba import njit\n\n\n@njit(cache=True)\ndef double(x):\n    return 2 * x\n")
    code = SCRIPT + f"""
import sys
sys.path.insert(0, {str(user_dir)!r})
import user_module
assert user_module.double(21) == 42
"""
    fastgd_dir = tmp_path / "fastgd-cache"
    _run(installed_copy, tmp_path, code, FASTGD_CACHE_DIR=fastgd_dir)
    assert [os.path.basename(p) for p in _numba_files(user_dir / "__pycache__") if p.endswith(".nbi")] != []
    assert not any("user_module" in p for p in _numba_files(fastgd_dir))
    assert _numba_files(fastgd_dir) != []
    assert _numba_files(installed_copy) == []


@pytest.mark.slow
def test_unwritable_cache_location_still_works(installed_copy, tmp_path):
    regular_file = tmp_path / "not-a-directory"
    regular_file.write_text("")
    result = _run(installed_copy, tmp_path, FASTGD_CACHE_DIR=regular_file / "cache")
    assert _report(result)["cache_dir"] is None
    assert result.stderr.count("not cached on disk") == 1, result.stderr
    assert _numba_files(installed_copy) == []
