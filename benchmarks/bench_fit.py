"""LogisticRegression fits (L-BFGS) and one mini-batch Adam epoch, beside scikit-learn and PyTorch; each records its objective gap.

The cases are defined once, in :mod:`fastgd.benchmark.cases`; ``python -m fastgd bench`` times the same.
"""

import pytest
from conftest import cases_of, run_case


@pytest.mark.parametrize("case", cases_of("fit"))
def bench_fit(benchmark, case):
    run_case(benchmark, case)
