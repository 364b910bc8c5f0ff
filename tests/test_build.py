"""The build without OpenMP (``FASTGD_NO_OPENMP=1``): serial kernels, same results.

Builds ``fastgd_core`` from the source tree into a temporary folder (skipped
when the tests run without the sources or without Cython), then compares the
serial build's kernels with the NumPy reference in a subprocess.
"""

import os
import shutil
import subprocess
import sys

import pytest

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = """
import numpy as np, fastgd_core
from fastgd_core import losses, optim
from fastgd.backends import reference
assert not fastgd_core.openmp_enabled(), fastgd_core.build_info()
rng = np.random.default_rng(0)
X = rng.standard_normal((20001, 7)); y = (rng.random(20001) < 0.5) * 1.0; w = rng.standard_normal(7)
g, g_ref = np.empty(7), np.empty(7)
result = losses.logistic_loss_grad(X, y, w, 0.1, None, g, n_threads=2)
expected = reference.logistic_loss_grad(X, y, w, 0.1, None, g_ref)
np.testing.assert_allclose(result, expected, rtol=1e-10)
np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
p, m, v = rng.standard_normal(300001), np.zeros(300001), np.zeros(300001)
q = p.copy()
kw = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, amsgrad=False,
          step=1.0, clip_value=np.inf, grad_scale=1.0)
optim.adam_step(p, p * 0.5, m, v, None, **kw, n_threads=2)
reference.adam_step(q, q * 0.5, np.zeros_like(q), np.zeros_like(q), None, **kw)
np.testing.assert_allclose(p, q, rtol=1e-12)
print("serial build ok")
"""


@pytest.mark.slow
def test_serial_build_without_openmp(tmp_path):
    pytest.importorskip("Cython")
    if not os.path.exists(os.path.join(SOURCE, "setup.py")) or shutil.which("cc") is None:
        pytest.skip("needs the source tree and a C compiler")
    source = tmp_path / "src"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("build", "*.so", "*.c", ".git", "__pycache__", "*.egg-info"))
    env = dict(os.environ, FASTGD_NO_OPENMP="1")
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=source, env=env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "building without OpenMP" in build.stdout
    check = subprocess.run([sys.executable, "-c", CHECK], cwd=source, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "serial build ok" in check.stdout
