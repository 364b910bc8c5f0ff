"""One optimizer step: every backend beside plain NumPy, the NumPy reference and PyTorch (plain and fused).

The cases are defined once, in :mod:`fastgd.benchmark.cases`; ``python -m fastgd bench`` times the same.
"""

import pytest
from conftest import cases_of, run_case


@pytest.mark.parametrize("case", cases_of("optimizer"))
def bench_optimizer(benchmark, case):
    run_case(benchmark, case)
