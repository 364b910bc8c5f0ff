"""Shared fixtures: every backend x every dtype, with dtype-aware tolerances.

A backend that cannot load here is skipped with its reason.  Setting
``FASTGD_REQUIRE_BACKENDS=cython,numba`` (as CI does) turns such a skip into a
failure, so a broken build can never pass silently; ``FASTGD_REQUIRE_TORCH=1``
does the same for the PyTorch parity tests.
"""

import os

import numpy as np
import pytest

from fastgd.backends import BACKEND_ORDER, backend_errors, raw_kernels

REQUIRED = {name.strip() for name in os.environ.get("FASTGD_REQUIRE_BACKENDS", "").split(",") if name.strip()}
TORCH_REQUIRED = os.environ.get("FASTGD_REQUIRE_TORCH", "") not in ("", "0")

# (rtol, atol) for comparing a compiled backend with the reference
TOLERANCES = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (2e-4, 2e-5)}


def load_backend(name):
    """The backend ``name``, or a skip (a failure if it is required) with the reason."""
    try:
        return raw_kernels(name)
    except ImportError:
        reason = backend_errors().get(name, "unknown reason")
        if name in REQUIRED:
            pytest.fail(f"required backend {name!r} failed to load: {reason}")
        pytest.skip(f"backend {name!r} unavailable: {reason}")


def import_torch():
    """PyTorch for the parity tests: a skip when it is not installed, a failure when
    ``FASTGD_REQUIRE_TORCH=1`` (as CI sets it)."""
    if TORCH_REQUIRED:
        import torch

        return torch
    return pytest.importorskip("torch")


@pytest.fixture(params=BACKEND_ORDER)
def backend(request):
    """Each backend's kernel namespace in turn."""
    return load_backend(request.param)


def other_simd_variants():
    """The Cython kernels' SIMD variants this CPU runs besides the default (the fastest one)."""
    try:
        import fastgd_core
    except ImportError:
        return ()
    return fastgd_core.simd_variants()[:-1]


COMPILED_BACKENDS = [name for name in BACKEND_ORDER if name != "numpy"]
COMPILED_BACKENDS += [f"cython-{variant}" for variant in other_simd_variants()]


@pytest.fixture(params=COMPILED_BACKENDS)
def compiled_backend(request):
    """Each compiled backend in turn (the ones held to the reference), the Cython kernels
    once in each SIMD variant the CPU runs ("cython" is the default, the fastest)."""
    name, _, variant = request.param.partition("-")
    kernels = load_backend(name)
    if not variant:
        yield kernels
        return
    import fastgd_core

    default = fastgd_core.simd()
    fastgd_core.use_simd(variant)
    try:
        yield kernels
    finally:
        fastgd_core.use_simd(default)


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def tol(dtype):
    """``dict(rtol=..., atol=...)`` for compiled-vs-reference comparisons."""
    rtol, atol = TOLERANCES[dtype]
    return {"rtol": rtol, "atol": atol}


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    return request.param


@pytest.fixture
def run_python(tmp_path):
    """Run ``python ARGS`` from an empty folder with the same fastgd as this process.

    The folder keeps a source checkout off ``sys.path``; ``PYTHONPATH`` points
    at wherever ``fastgd`` was imported from (site-packages or a build tree).
    """
    import subprocess
    import sys

    import fastgd

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastgd.__file__)))
    base_env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))

    def run(*args, timeout=600, env=None):
        """``env``: variables set for this run, over the inherited ones."""
        run_env = dict(base_env, **(env or {}))
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path, env=run_env,
                              timeout=timeout)

    return run
