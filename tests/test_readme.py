"""The README's Python examples run as written (in a temporary folder: one saves a plot)."""

import os
import re
import warnings

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_python_examples_run(tmp_path, monkeypatch):
    if not os.path.exists(README):
        pytest.skip("needs the source tree")
    pytest.importorskip("matplotlib")
    pytest.importorskip("dask.array")  # the Dask example (dask is in the test extra)
    blocks = re.findall(r"```python\n(.*?)```", open(README, encoding="utf-8").read(), re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the examples stop early on purpose (ConvergenceWarning)
        for number, block in enumerate(blocks):
            exec(compile(block, f"README python block {number}", "exec"), namespace)
