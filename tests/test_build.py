"""The build without OpenMP (``FASTGD_NO_OPENMP=1``): serial kernels, same results.

Builds a wheel of a copy of the source tree with ``pip wheel`` (an isolated
build: pip installs the ``[build-system] requires`` of pyproject.toml, so the
test environment needs no Cython or setuptools), unpacks it into a temporary
folder, then compares the serial build's kernels with the NumPy reference in
a subprocess that imports fastgd from there.  Skipped when the tests run
without the sources (from an installed wheel) or without a C compiler or pip.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = """
import os, sys
import numpy as np, fastgd_core
from fastgd_core import losses, optim
from fastgd.backends import reference
assert os.path.samefile(os.path.dirname(os.path.dirname(losses.__file__)), sys.argv[1]), losses.__file__
assert not fastgd_core.openmp_enabled(), fastgd_core.build_info()
rng = np.random.default_rng(0)
X = rng.standard_normal((20001, 7)); y = (rng.random(20001) < 0.5) * 1.0; w = rng.standard_normal(7)
g, g_ref = np.empty(7), np.empty(7)
result = losses.logistic_loss_grad(X, y, w, 0.1, None, g, n_threads=2)
expected = reference.logistic_loss_grad(X, y, w, 0.1, None, g_ref, n_threads=1)
np.testing.assert_allclose(result, expected, rtol=1e-10)
np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
p = rng.standard_normal(300001)
q = p.copy()
adam = dict(code=3, hyper=np.array([0.1, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0]), step=1, clip_value=np.inf, grad_scale=1.0)
optim.optimizer_update(p, p * 0.5, np.zeros((3, p.size)), np.zeros(1), **adam, n_threads=2)
reference.optimizer_update(q, q * 0.5, np.zeros((3, q.size)), np.zeros(1), **adam, n_threads=1)
np.testing.assert_allclose(p, q, rtol=1e-12)
print("serial build ok")
"""

GENERATED = (".*", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.pyd", "*.c")  # the copy builds from sources


@pytest.mark.slow
def test_serial_build_without_openmp(tmp_path):
    if not os.path.exists(os.path.join(SOURCE, "setup.py")):
        pytest.skip("needs the source tree (these tests run from an installed package)")
    if sys.platform != "win32" and shutil.which(os.environ.get("CC", "cc").split()[0]) is None:
        pytest.skip("needs a C compiler")
    if importlib.util.find_spec("pip") is None:
        pytest.skip("needs pip")
    source, wheels, site, cwd = (tmp_path / name for name in ("src", "wheels", "site", "cwd"))
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns(*GENERATED))
    cwd.mkdir()
    env = dict(os.environ, FASTGD_NO_OPENMP="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--wheel-dir", str(wheels),
                            str(source)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "building without OpenMP" in build.stdout + build.stderr
    (wheel,) = wheels.glob("fastgd-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    check = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "serial build ok" in check.stdout
