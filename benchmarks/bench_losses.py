"""Fused loss+gradient passes over X: every backend beside X @ w, the NumPy reference and PyTorch.

The cases are defined once, in :mod:`fastgd.benchmark.cases`; ``python -m fastgd bench`` times the same.
"""

import pytest
from conftest import cases_of, run_case


@pytest.mark.parametrize("case", cases_of("loss"))
def bench_loss(benchmark, case):
    run_case(benchmark, case)
