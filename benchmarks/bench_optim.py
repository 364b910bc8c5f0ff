"""One optimizer step on 10,000,000 parameters: every backend beside plain NumPy and PyTorch.

Each group (optimizer x dtype x clipping) holds:

* ``numpy-user``: the update written in plain NumPy as a user would (temporaries and all);
* each fastgd backend with the default, checked step (``check_finite=True``);
* each compiled backend with ``check_finite=False`` (a single fused pass without ``clip_norm``);
* PyTorch's default step and ``fused=True`` step when torch is installed (with
  ``clip_grad_norm_`` in front when clipping).
"""

import math

import numpy as np
import pytest
from conftest import backend_or_skip

from fastgd import optim
from fastgd.backends import BACKEND_ORDER

OPTIMIZERS = {
    "SGD-momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9)),
    "Adagrad": (optim.Adagrad, dict(lr=1e-2)),
    "RMSprop": (optim.RMSprop, dict(lr=1e-2)),
    "Adam": (optim.Adam, dict(lr=1e-3)),
    "AdamW": (optim.AdamW, dict(lr=1e-3)),
}
TORCH_FUSED = {"SGD-momentum", "Adagrad", "Adam", "AdamW"}  # PyTorch has no fused RMSprop
IMPLEMENTATIONS = ["numpy-user", *[f"{b}" for b in reversed(BACKEND_ORDER)], "cython-unchecked", "numba-unchecked", "torch", "torch-fused"]
CLIP_NORM = 1e3  # large enough that the scale is 1: the step itself is what is timed


def _arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), (rng.standard_normal(n) * 1e-3).astype(dtype)


def _user_clip(g, clip):
    if clip:
        g *= min(1.0, CLIP_NORM / (np.linalg.norm(g) + 1e-6))
    return g


def _numpy_user_step(name, p, g, clip):
    """The update as a NumPy user writes it: readable, one temporary per operation."""
    state = {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": 0}

    def step():
        grad = _user_clip(g.copy(), clip) if clip else g
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]
        if name == "SGD-momentum":
            m[:] = 0.9 * m + grad
            p[:] = p - 1e-3 * m
        elif name == "Adagrad":
            v[:] = v + grad * grad
            p[:] = p - 1e-2 * grad / (np.sqrt(v) + 1e-10)
        elif name == "RMSprop":
            v[:] = 0.99 * v + 0.01 * grad * grad
            p[:] = p - 1e-2 * grad / (np.sqrt(v) + 1e-8)
        else:
            if name == "AdamW":
                p[:] = p * (1 - 1e-3 * 1e-2)
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad * grad
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            p[:] = p - 1e-3 * m_hat / (np.sqrt(v_hat) + 1e-8)

    return step


def _fastgd_step(name, p, g, clip, backend, check_finite):
    backend_or_skip(backend)
    cls, kwargs = OPTIMIZERS[name]
    opt = cls(**kwargs, clip_norm=CLIP_NORM if clip else None, check_finite=check_finite, backend=backend)
    return lambda: opt.step(p, g)


def _torch_step(name, p, g, clip, fused):
    torch = pytest.importorskip("torch")
    if fused and name not in TORCH_FUSED:
        pytest.skip(f"PyTorch has no fused {name}")
    cls, kwargs = OPTIMIZERS[name]
    tensor = torch.from_numpy(p).requires_grad_(True)
    tensor.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, cls.__name__)([tensor], **kwargs, **({"fused": True} if fused else {}))

    def step():
        if clip:
            torch.nn.utils.clip_grad_norm_([tensor], CLIP_NORM)
        opt.step()

    return step


def make_step(implementation, name, p, g, clip):
    if implementation == "numpy-user":
        return _numpy_user_step(name, p, g, clip)
    if implementation.startswith("torch"):
        return _torch_step(name, p, g, clip, fused=implementation == "torch-fused")
    backend, _, unchecked = implementation.partition("-")
    return _fastgd_step(name, p, g, clip, backend, check_finite=not unchecked)


@pytest.mark.parametrize("clip", [False, True], ids=["no-clip", "clip_norm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def bench_optimizer_step(benchmark, scale, implementation, name, dtype, clip):
    p, g = _arrays(scale["n_params"], np.dtype(dtype))
    step = make_step(implementation, name, p, g, clip)
    step()  # warm-up: JIT compilation, state allocation, first-step branches
    benchmark.group = f"{name} {len(p):,} {dtype} {'clip_norm' if clip else 'no clip'}"
    benchmark.extra_info["bytes_per_array"] = p.nbytes
    benchmark(step)
    assert np.isfinite(p).all() and not math.isnan(float(p[0]))
