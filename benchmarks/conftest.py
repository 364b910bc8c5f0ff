"""Benchmark fixtures: problem sizes by scale, and the BLAS in use recorded.

``FASTGD_BENCH_SCALE=large`` (the default) uses the sizes the performance
targets are stated for; ``small`` is the smoke run CI does.  Compare NumPy with
OpenBLAS's CPU-type overrides unset, e.g.
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benchmarks``.
"""

import os

import pytest

SCALES = {
    "large": {"n_samples": 1_000_000, "n_features": 100, "n_params": 10_000_000},
    "small": {"n_samples": 20_000, "n_features": 100, "n_params": 100_000},
}


def bench_scale():
    name = os.environ.get("FASTGD_BENCH_SCALE", "large")
    if name not in SCALES:
        raise ValueError(f"FASTGD_BENCH_SCALE must be one of {sorted(SCALES)}, got {name!r}")
    return SCALES[name]


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the thread pools (BLAS, OpenMP) and the environment that tunes them."""
    try:
        from threadpoolctl import threadpool_info

        machine_info["threadpools"] = threadpool_info()
    except ImportError:
        machine_info["threadpools"] = "threadpoolctl not installed"
    machine_info["openblas_env"] = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    machine_info["bench_scale"] = os.environ.get("FASTGD_BENCH_SCALE", "large")


@pytest.fixture(scope="session")
def scale():
    return bench_scale()


REQUIRED = {name.strip() for name in os.environ.get("FASTGD_REQUIRE_BACKENDS", "").split(",") if name.strip()}


def backend_or_skip(name):
    """The backend's name, or a skip (a failure when ``FASTGD_REQUIRE_BACKENDS`` names it)."""
    from fastgd.backends import backend_errors, get_backend

    try:
        return get_backend(name).name
    except ImportError:
        reason = backend_errors().get(name, "unknown reason")
        if name in REQUIRED:
            pytest.fail(f"required backend {name!r} failed to load: {reason}")
        pytest.skip(f"backend {name!r} unavailable: {reason}")
