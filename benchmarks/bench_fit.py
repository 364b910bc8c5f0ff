"""Training on the generated, standardized logistic problem: fastgd beside its peers.

Every case records its time and, in ``extra_info["gap"]``, the relative gap of
its final objective ``mean log-loss + alpha/2 ||w||^2`` to the optimum ``L*``
(from a tight float64 L-BFGS solve), with ``alpha = 1 / (1e6 n)``: the
near-unregularized problem, which scikit-learn's ``LogisticRegression(C=1e6)``
solves.  Cases:

* ``fit-default``: ``fastgd.LogisticRegression(alpha=...)`` as it comes (L-BFGS);
* ``fit-lbfgs-1e-6``: the same with ``tol`` tight enough for a 1e-6 gap;
* ``epoch-adam``: one mini-batch Adam epoch (batch 1024, shuffled) per backend --
  the NumPy backend is the plain NumPy loop;
* peers when installed: scikit-learn ``LogisticRegression`` (lbfgs) to 1e-3 and
  1e-6 gaps, one ``SGDClassifier`` epoch, one PyTorch mini-batch Adam epoch.
"""

import math
import warnings

import numpy as np
import pytest
from conftest import backend_or_skip

import fastgd
from fastgd import training
from fastgd.backends import BACKEND_ORDER, get_backend

_cache = {}


def problem(dtype, scale):
    """(X, y, alpha, L*) per dtype, generated and solved once."""
    if dtype not in _cache:
        _cache.clear()
        X, y, _ = fastgd.datasets.make_classification(scale["n_samples"], scale["n_features"], dtype=dtype, random_state=0)
        alpha = 1.0 / (1e6 * len(y))
        X64 = X.astype(np.float64, copy=False)
        tight = fastgd.LogisticRegression(alpha=alpha, tol=1e-9, max_iter=10_000).fit(X64, y.astype(np.float64))
        _cache[dtype] = (X, y, alpha, objective_at(X64, y, alpha, tight.coef_.ravel(), float(tight.intercept_[0])))
    return _cache[dtype]


def objective_at(X, y, alpha, w, b):
    """The penalized objective in float64 at (w, b)."""
    theta = np.concatenate([np.asarray(w, np.float64).ravel(), [b]])
    X64 = X.astype(np.float64, copy=False)
    spec = training.Problem(X64, y.astype(np.float64), None, "log_loss", alpha, True)
    return training.objective(get_backend("numpy"), spec, theta, np.empty_like(theta), 1)


def record_gap(benchmark, X, y, alpha, best, w, b):
    gap = (objective_at(X, y, alpha, w, b) - best) / abs(best)
    benchmark.extra_info["gap"] = gap
    return gap


DTYPES = {"float32": np.float32, "float64": np.float64}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("backend", list(BACKEND_ORDER))
@pytest.mark.parametrize("case", ["fit-default", "fit-lbfgs-1e-6"])
def bench_fastgd_fit(benchmark, scale, case, backend, dtype):
    X, y, alpha, best = problem(DTYPES[dtype], scale)
    tol = 1e-4 if case == "fit-default" else 1e-7
    model = fastgd.LogisticRegression(alpha=alpha, tol=tol, backend=backend_or_skip(backend))
    benchmark.group = f"fit {X.shape[0]}x{X.shape[1]} {dtype}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        benchmark.pedantic(model.fit, args=(X, y), rounds=3, warmup_rounds=1)
    record_gap(benchmark, X, y, alpha, best, model.coef_, float(model.intercept_[0]))
    benchmark.extra_info["n_iter"] = model.n_iter_


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("backend", list(BACKEND_ORDER))
def bench_adam_epoch(benchmark, scale, backend, dtype):
    X, y, alpha, best = problem(DTYPES[dtype], scale)
    model = fastgd.LogisticRegression(alpha=alpha, optimizer="adam", lr=1e-3, batch_size=1024, max_iter=1, tol=0.0,
                                      random_state=0, backend=backend_or_skip(backend))
    benchmark.group = f"one mini-batch Adam epoch (batch 1024) {X.shape[0]}x{X.shape[1]} {dtype}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        rounds = 1 if backend == "numpy" else 5
        benchmark.pedantic(model.fit, args=(X, y), rounds=rounds, warmup_rounds=1)
    record_gap(benchmark, X, y, alpha, best, model.coef_, float(model.intercept_[0]))


@pytest.mark.parametrize("target", ["1e-3", "1e-6"])
def bench_sklearn_lbfgs(benchmark, scale, target):
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y, alpha, best = problem(np.float64, scale)
    max_iter = smallest_sufficient_max_iter(sklearn_linear, X, y, alpha, best, float(target))
    model = sklearn_linear.LogisticRegression(C=1.0 / (alpha * len(y)), max_iter=max_iter, tol=1e-12)
    benchmark.group = f"fit {X.shape[0]}x{X.shape[1]} float64"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(model.fit, args=(X, y), rounds=3, warmup_rounds=0)
    record_gap(benchmark, X, y, alpha, best, model.coef_, float(model.intercept_[0]))
    benchmark.extra_info["max_iter"] = max_iter


def smallest_sufficient_max_iter(sklearn_linear, X, y, alpha, best, target):
    """scikit-learn's smallest max_iter whose lbfgs fit reaches the target gap."""
    for max_iter in (5, 10, 15, 20, 30, 40, 60, 80, 120, 200, 400):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sklearn_linear.LogisticRegression(C=1.0 / (alpha * len(y)), max_iter=max_iter, tol=1e-12).fit(X, y)
        if (objective_at(X, y, alpha, model.coef_, float(model.intercept_[0])) - best) / abs(best) <= target:
            return max_iter
    return 400


def bench_sklearn_sgd_epoch(benchmark, scale):
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y, alpha, best = problem(np.float64, scale)
    model = sklearn_linear.SGDClassifier(loss="log_loss", alpha=alpha, max_iter=1, tol=None, random_state=0)
    benchmark.group = f"one mini-batch Adam epoch (batch 1024) {X.shape[0]}x{X.shape[1]} float64"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(model.fit, args=(X, y), rounds=3, warmup_rounds=0)
    record_gap(benchmark, X, y, alpha, best, model.coef_, float(model.intercept_[0]))


@pytest.mark.parametrize("dtype", list(DTYPES))
def bench_torch_adam_epoch(benchmark, scale, dtype):
    torch = pytest.importorskip("torch")
    X, y, alpha, best = problem(DTYPES[dtype], scale)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = torch.nn.Linear(X.shape[1], 1).to(Xt.dtype)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(0)
    opt = None

    def fresh_start():
        """Each round is one epoch from zero, as the fastgd fits it is compared with."""
        nonlocal opt
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch():
        order = torch.randperm(len(yt), generator=generator)
        for start in range(0, len(yt), 1024):
            rows = order[start:start + 1024]
            opt.zero_grad()
            loss = loss_fn(model(Xt[rows]).squeeze(1), yt[rows]) + 0.5 * alpha * (model.weight**2).sum()
            loss.backward()
            opt.step()

    benchmark.group = f"one mini-batch Adam epoch (batch 1024) {X.shape[0]}x{X.shape[1]} {dtype}"
    benchmark.pedantic(epoch, setup=fresh_start, rounds=3, warmup_rounds=0)
    w = model.weight.detach().numpy().ravel()
    record_gap(benchmark, X, y, alpha, best, w, float(model.bias.detach().numpy()[0]))
    assert math.isfinite(benchmark.extra_info["gap"])
