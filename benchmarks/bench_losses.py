"""Fused loss+gradient kernels on a large problem, every backend beside the floor.

Each group (loss x dtype) holds: ``X @ w`` (one BLAS read of X, the floor of any
pass), the NumPy reference, every compiled backend, and PyTorch when installed.
pytest-benchmark's table then gives the ratios within one run.
"""

import numpy as np
import pytest
from conftest import backend_or_skip

from fastgd import datasets
from fastgd._validation import usable_cores
from fastgd.backends import BACKEND_ORDER, get_backend

LOSSES = {"logistic_loss_grad": datasets.make_classification, "squared_loss_grad": datasets.make_regression}
DTYPES = {"float64": np.float64, "float32": np.float32}
_problems = {}
THREADS = usable_cores()


def problem(loss, dtype, scale):
    """One generated problem per (loss, dtype), shared by the whole run."""
    key = (loss, dtype)
    if key not in _problems:
        X, y, w = LOSSES[loss](scale["n_samples"], scale["n_features"], dtype=DTYPES[dtype], random_state=0)
        _problems.clear()  # keep at most one large problem in memory
        _problems[key] = (X, y, (0.5 * w).astype(X.dtype))
    return _problems[key]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("implementation", ["X@w", *reversed(BACKEND_ORDER), "torch"])
def bench_loss_grad(benchmark, scale, loss, dtype, implementation):
    X, y, w = problem(loss, dtype, scale)
    benchmark.group = f"{loss} {X.shape[0]}x{X.shape[1]} {dtype}"
    benchmark.extra_info["bytes_of_X"] = X.nbytes
    if implementation == "X@w":
        benchmark(np.matmul, X, w)
        return
    if implementation == "torch":
        benchmark(*_torch_loss_grad(loss, X, y, w))
        return
    kernel = getattr(get_backend(backend_or_skip(implementation)), loss)
    grad_w = np.empty_like(w)
    kernel(X, y, w, 0.1, None, grad_w, n_threads=THREADS)  # warm-up: JIT compile or cache load
    benchmark(kernel, X, y, w, 0.1, None, grad_w, n_threads=THREADS)


def _torch_loss_grad(loss, X, y, w):
    """PyTorch computing the same loss and gradient by hand (no autograd overhead)."""
    torch = pytest.importorskip("torch")
    Xt, yt, wt = (torch.from_numpy(a) for a in (X, y, w))

    def logistic():
        z = Xt @ wt + 0.1
        loss_value = torch.nn.functional.binary_cross_entropy_with_logits(z, yt)
        residual = (torch.sigmoid(z) - yt) / len(yt)
        return float(loss_value), Xt.T @ residual, float(residual.sum())

    def squared():
        residual = Xt @ wt + 0.1 - yt
        return float(0.5 * (residual * residual).mean()), Xt.T @ residual / len(yt), float(residual.mean())

    return (logistic if loss == "logistic_loss_grad" else squared,)
