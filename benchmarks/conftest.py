"""The pytest-benchmark driver of fastgd's benchmark cases (:mod:`fastgd.benchmark.cases`).

``FASTGD_BENCH_SCALE=large`` (the default) uses the sizes the performance
targets are stated for; ``small`` is the smoke run CI does.  Each benchmark
stores its case in ``extra_info`` (kind, group, implementation, bytes moved,
and facts such as a fit's gap), so ``benchmarks/report.py`` turns a saved
``--benchmark-json`` into the same tables as ``python -m fastgd bench``.
Compare NumPy with OpenBLAS's CPU-type overrides unset, e.g.
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benchmarks``.
"""

import os

import pytest

from fastgd.benchmark import cases

SCALE = os.environ.get("FASTGD_BENCH_SCALE", "large")
REQUIRED = {name.strip() for name in os.environ.get("FASTGD_REQUIRE_BACKENDS", "").split(",") if name.strip()}
SLOW_ROUNDS = {"reference": 1, "dask_ml": 1}  # fits of the NumPy reference and dask-ml take seconds at the large scale


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the machine as the package's report does, plus the raw thread pools and the scale."""
    from fastgd.benchmark.report import machine_info as fastgd_machine_info

    machine_info["fastgd"] = fastgd_machine_info()
    try:
        from threadpoolctl import threadpool_info

        machine_info["threadpools"] = threadpool_info()
    except ImportError:
        machine_info["threadpools"] = "threadpoolctl not installed"
    machine_info["bench_scale"] = SCALE


def cases_of(kind):
    """pytest parameters, one per case of this kind, named after the case."""
    return [pytest.param(case, id=f"{case.group}-{case.implementation}") for case in cases.all_cases(SCALE, [kind])]


def run_case(benchmark, case):
    """Time one case; a missing backend is a skip, or a failure when ``FASTGD_REQUIRE_BACKENDS`` names it."""
    try:
        call = case.prepare()  # includes the warm-up call
    except cases.Unavailable as reason:
        if case.implementation in REQUIRED:
            pytest.fail(f"required backend {case.implementation!r}: {reason}")
        pytest.skip(str(reason))
    benchmark.group = case.group
    benchmark.extra_info.update(kind=case.kind, group=case.group, implementation=case.implementation,
                                family=case.family, bytes_moved=case.bytes_moved)
    if case.kind in ("fit", "dask") and case.implementation != cases.ROUND_TRIP:
        result = benchmark.pedantic(call, rounds=SLOW_ROUNDS.get(case.family, 3), iterations=1)
    else:
        result = benchmark(call)
    if case.describe:
        benchmark.extra_info.update(case.describe(result))
