"""A LogisticRegression fit on Dask arrays (a local cluster of 2 worker processes), beside the same fit in one
process, dask-ml's solvers and one round trip to the cluster; each fit records its objective gap.

The cases are defined once, in :mod:`fastgd.benchmark.cases`; ``python -m fastgd bench --kinds dask`` times the same.
"""

import pytest
from conftest import cases_of, run_case


@pytest.mark.parametrize("case", cases_of("dask"))
def bench_dask(benchmark, case):
    run_case(benchmark, case)
