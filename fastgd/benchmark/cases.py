"""The benchmark cases: one definition, run by ``python -m fastgd bench`` and by ``benchmarks/``.

A case is one operation (its ``group``, e.g. "logistic loss+grad float32
1,000,000x100") done by one ``implementation``.  Every group holds fastgd's
compiled backends beside the NumPy reference (``numpy``, the oracle the tests
hold them to) and, when installed, the peers: PyTorch and scikit-learn.

* ``loss``: one fused loss+gradient pass over X; ``X@w`` (one BLAS read of X)
  is the floor of any such pass.
* ``optimizer``: one step on ``n_params`` parameters; ``numpy-user`` is the
  update written in plain NumPy as a user would, one temporary per operation;
  ``<backend> unchecked`` is fastgd's step with ``check_finite=False`` (a
  single fused pass, as PyTorch's fused step), beside the default checked one.
* ``fit``: ``LogisticRegression.fit`` to its default tolerance (L-BFGS); one
  shuffled mini-batch Adam epoch (batch 1024) as a whole fit, beside each
  backend's compiled epoch kernel alone; L-BFGS fits to a 1e-6 relative
  objective gap (the smallest ``max_iter`` reaching it, ``tol=0``) of an
  ill-conditioned binary problem and of a multinomial one, beside
  scikit-learn-intelex; MLP epochs beside their matrix products alone.

``bytes_moved`` is the least traffic the operation needs (each array read or
written once), so ``bytes_moved / seconds`` is its throughput; fits that make
an unknown number of passes over X have none.
"""

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

SCALES = {
    "large": {"n_samples": 1_000_000, "n_features": 100, "n_params": 10_000_000},
    "small": {"n_samples": 20_000, "n_features": 100, "n_params": 100_000},
}
DTYPES = ("float32", "float64")
BACKENDS = ("numpy", "cython", "numba")
REFERENCE = "numpy"
LOSSES = {"logistic": "logistic_loss_grad", "squared": "squared_loss_grad"}
OPTIMIZERS = {
    "SGD-momentum": ("SGD", dict(lr=1e-3, momentum=0.9)),
    "Adagrad": ("Adagrad", dict(lr=1e-2)),
    "RMSprop": ("RMSprop", dict(lr=1e-2)),
    "Adam": ("Adam", dict(lr=1e-3)),
    "AdamW": ("AdamW", dict(lr=1e-3)),
}
CLIPPED = ("SGD-momentum", "Adam")  # also timed with clip_norm
CLIP_NORM = 1e3  # large enough that the scale stays 1: the step itself is what is timed
STATE_ARRAYS = {"SGD-momentum": 1, "Adagrad": 1, "RMSprop": 1, "Adam": 2, "AdamW": 2}
TORCH_FUSED = {"SGD-momentum", "Adagrad", "Adam", "AdamW"}  # PyTorch has no fused RMSprop
UNCHECKED = "unchecked"  # an optimizer step with check_finite=False: one fused pass, no finite check of g
BATCH_SIZE = 1024
N_CLASSES = 10  # of the softmax and MLP cases
MLP_HIDDEN = ((64,), (256, 256))  # hidden layers of the MLP cases
MLP_BATCH = 256
FLOOR = "X@W+X.T@G"  # the two matrix products a softmax loss+gradient cannot avoid
MLP_FLOOR = "X@W products"  # an MLP epoch's matrix products alone, batch by batch
EPOCH_KERNEL = "epoch kernel"  # suffix of a backend's compiled epoch timed alone, without the rest of fit
TARGET_GAP = 1e-6  # the relative objective gap a multinomial fit is timed to
MAX_ITER_LIMIT = 256  # the search for the smallest max_iter reaching TARGET_GAP stops here


class Unavailable(Exception):
    """The case cannot run here (a backend or a peer is not installed)."""


@dataclass(frozen=True)
class Case:
    """One timed operation.

    ``prepare()`` builds the data and returns the call to time, already warmed
    up (JIT compilation, cache loading and first-touch costs are not timed);
    it raises :class:`Unavailable` when the implementation is missing.
    ``describe(result)`` turns the call's last result into extra facts
    (e.g. the objective gap a fit reached).  ``data_bytes`` is the size of
    the X a fit trains on (the memory report's yardstick).
    """

    kind: str
    group: str
    implementation: str
    bytes_moved: int | None
    prepare: Callable[[], Callable[[], Any]] = field(compare=False, repr=False)
    describe: Callable[[Any], dict] | None = field(default=None, compare=False, repr=False)
    data_bytes: int | None = None

    @property
    def name(self):
        return f"{self.group} [{self.implementation}]"

    @property
    def family(self):
        return family_of(self.implementation)


def family_of(implementation):
    """Whose code runs: ``reference``, ``fastgd``, ``numpy`` (plain NumPy), ``torch`` or ``sklearn``."""
    if implementation == REFERENCE:
        return "reference"
    head = implementation.split("-")[0].split(" ")[0]
    if head in ("cython", "numba"):
        return "fastgd"
    return {"X@w": "numpy", "X@W": "numpy", FLOOR: "numpy", "numpy": "numpy", "torch": "torch", "sklearn": "sklearn",
            "sklearnex": "sklearnex", "dask": "dask_ml", "round": "dask"}[head]


def scale_sizes(scale):
    """The sizes of a scale name (``large`` or ``small``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    return SCALES[scale]


def all_cases(scale, kinds=("loss", "optimizer", "fit")):
    """Every case of the given kinds at this scale, in report order (cheap: no data is made)."""
    sizes = scale_sizes(scale)
    makers = {"loss": loss_cases, "optimizer": optimizer_cases, "fit": fit_cases, "dask": dask_cases}
    unknown = set(kinds) - set(makers)
    if unknown:
        raise ValueError(f"unknown case kinds {sorted(unknown)}; choose from {sorted(makers)}")
    return [case for kind in kinds for case in makers[kind](sizes)]


# ---------------------------------------------------------------------------------------------- shared data

_data = {}


def _shared(key, make):
    """One large array set at a time, shared by the cases that use it."""
    if key not in _data:
        _data.clear()
        _data[key] = make()
    return _data[key]


def _backend(name):
    from fastgd.backends import backend_errors, raw_kernels

    try:
        return raw_kernels(name)
    except ImportError:
        raise Unavailable(f"backend {name!r} unavailable: {backend_errors().get(name, 'unknown reason')}") from None


def _import_peer(module_name):
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise Unavailable(f"{module_name} is not installed") from None


def _threads():
    from fastgd._validation import usable_cores

    return usable_cores()


# ---------------------------------------------------------------------------------------------- losses


def _loss_problem(loss, dtype, sizes):
    from fastgd import datasets

    def make():
        generate = datasets.make_classification if loss == "logistic" else datasets.make_regression
        X, y, w = generate(sizes["n_samples"], sizes["n_features"], dtype=dtype, random_state=0)
        return X, y, (0.5 * w).astype(X.dtype)

    return _shared(("loss", loss, dtype, sizes["n_samples"], sizes["n_features"]), make)


def loss_cases(sizes):
    cases = []
    n, d = sizes["n_samples"], sizes["n_features"]
    for loss in LOSSES:
        for dtype in DTYPES:
            group = f"{loss} loss+grad {dtype} {n:,}x{d}"
            bytes_moved = n * d * np.dtype(dtype).itemsize + n * np.dtype(dtype).itemsize
            for implementation in ("X@w", *BACKENDS, "torch"):
                prepare = _loss_call(loss, dtype, sizes, implementation)
                cases.append(Case("loss", group, implementation, bytes_moved, prepare))
    for dtype in DTYPES:
        group = f"softmax loss+grad {dtype} {n:,}x{d} k={N_CLASSES}"
        bytes_moved = n * d * np.dtype(dtype).itemsize + n * np.dtype(dtype).itemsize
        for implementation in (FLOOR, *BACKENDS, "torch"):
            cases.append(Case("loss", group, implementation, bytes_moved, _softmax_call(dtype, sizes, implementation)))
    return cases


def _softmax_problem(dtype, sizes):
    """X standard normal, labels argmax(X W0 + Gumbel noise) with W0 of scale 0.3, and W = W0."""

    def make():
        rng = np.random.default_rng(0)
        X = rng.standard_normal((sizes["n_samples"], sizes["n_features"]), dtype=np.float64).astype(dtype)
        W = (0.3 * rng.standard_normal((sizes["n_features"], N_CLASSES))).astype(dtype)
        y = np.argmax(X @ W + rng.gumbel(size=(len(X), N_CLASSES)).astype(dtype), axis=1).astype(dtype)
        return X, y, W

    return _shared(("softmax", dtype, sizes["n_samples"], sizes["n_features"]), make)


def _softmax_call(dtype, sizes, implementation):
    def prepare():
        X, y, W = _softmax_problem(dtype, sizes)
        b = np.zeros(N_CLASSES, dtype=X.dtype)
        if implementation == "torch":
            call = _torch_softmax(X, y, W)
        elif implementation == FLOOR:
            G = np.ones((X.shape[0], N_CLASSES), dtype=X.dtype)
            call = lambda: (X @ W, X.T @ G)  # noqa: E731
        else:
            kernel = _backend(implementation).softmax_loss_grad
            grad_W, grad_b, threads = np.empty_like(W), np.empty_like(b), _threads()
            call = lambda: kernel(X, y, W, b, None, grad_W, grad_b, n_threads=threads)  # noqa: E731
        call()
        return call

    return prepare


def _torch_softmax(X, y, W):
    """PyTorch: a linear layer, ``cross_entropy``, forward and backward (autograd)."""
    torch = _import_peer("torch")
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    Wt = torch.from_numpy(W.T.copy()).requires_grad_()
    bt = torch.zeros(W.shape[1], dtype=Wt.dtype, requires_grad=True)

    def call():
        Wt.grad = bt.grad = None
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(Xt, Wt, bt), yt)
        loss.backward()
        return float(loss.detach())

    return call


def _loss_call(loss, dtype, sizes, implementation):
    def prepare():
        if implementation == "torch":
            call = _torch_loss_grad(loss, *_loss_problem(loss, dtype, sizes))
        elif implementation == "X@w":
            X, _, w = _loss_problem(loss, dtype, sizes)
            call = lambda: X @ w  # noqa: E731
        else:
            kernel = getattr(_backend(implementation), LOSSES[loss])
            X, y, w = _loss_problem(loss, dtype, sizes)
            grad_w, threads = np.empty_like(w), _threads()
            call = lambda: kernel(X, y, w, 0.1, None, grad_w, n_threads=threads)  # noqa: E731
        call()
        return call

    return prepare


def _torch_loss_grad(loss, X, y, w):
    """PyTorch computing the same loss and gradient by hand (no autograd overhead)."""
    torch = _import_peer("torch")
    Xt, yt, wt = (torch.from_numpy(a) for a in (X, y, w))

    def logistic():
        z = Xt @ wt + 0.1
        loss_value = torch.nn.functional.binary_cross_entropy_with_logits(z, yt)
        residual = (torch.sigmoid(z) - yt) / len(yt)
        return float(loss_value), Xt.T @ residual, float(residual.sum())

    def squared():
        residual = Xt @ wt + 0.1 - yt
        return float(0.5 * (residual * residual).mean()), Xt.T @ residual / len(yt), float(residual.mean())

    return logistic if loss == "logistic" else squared


# ---------------------------------------------------------------------------------------------- optimizers


def optimizer_cases(sizes):
    cases = []
    n = sizes["n_params"]
    for name in OPTIMIZERS:
        for clip in (False, True) if name in CLIPPED else (False,):
            for dtype in DTYPES:
                group = f"{name}{' clip_norm' if clip else ''} step {dtype} {n:,}"
                # p and the state are read and written, g is read (a clip_norm pass reads g once more).
                arrays = 2 * (1 + STATE_ARRAYS[name]) + 1 + clip
                unchecked = () if clip else tuple(f"{b} {UNCHECKED}" for b in BACKENDS if b != REFERENCE)
                for implementation in ("numpy-user", *BACKENDS, *unchecked, "torch", "torch-fused"):
                    prepare = _optimizer_call(name, dtype, clip, n, implementation)
                    cases.append(Case("optimizer", group, implementation, arrays * n * np.dtype(dtype).itemsize, prepare))
    return cases


def _optimizer_call(name, dtype, clip, n, implementation):
    def prepare():
        rng = np.random.default_rng(0)
        p = rng.standard_normal(n).astype(dtype)
        g = (rng.standard_normal(n) * 1e-3).astype(dtype)
        if implementation == "numpy-user":
            step = _numpy_user_step(name, p, g, clip)
        elif implementation.startswith("torch"):
            step = _torch_step(name, p, g, clip, fused=implementation == "torch-fused")
        else:
            step = _fastgd_step(name, p, g, clip, implementation)
        step()
        return step

    return prepare


def _fastgd_step(name, p, g, clip, implementation):
    """fastgd's step: the default (checked) one, or ``"<backend> unchecked"``: ``check_finite=False``."""
    from fastgd import optim

    backend, _, unchecked = implementation.partition(" ")
    class_name, kwargs = OPTIMIZERS[name]
    opt = getattr(optim, class_name)(**kwargs, clip_norm=CLIP_NORM if clip else None, backend=_backend(backend).name,
                                     check_finite=unchecked != UNCHECKED)
    return lambda: opt.step(p, g)


def _numpy_user_step(name, p, g, clip):
    """The update as a NumPy user writes it: readable, one temporary per operation."""
    state = {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": 0}

    def step():
        grad = g
        if clip:
            grad = g * min(1.0, CLIP_NORM / (np.linalg.norm(g) + 1e-6))
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


def _torch_step(name, p, g, clip, fused):
    torch = _import_peer("torch")
    if fused and name not in TORCH_FUSED:
        raise Unavailable(f"PyTorch has no fused {name}")
    class_name, kwargs = OPTIMIZERS[name]
    tensor = torch.from_numpy(p).requires_grad_(True)
    tensor.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, class_name)([tensor], **kwargs, **({"fused": True} if fused else {}))

    def step():
        if clip:
            torch.nn.utils.clip_grad_norm_([tensor], CLIP_NORM)
        opt.step()

    return step


# ---------------------------------------------------------------------------------------------- fits


def fit_problem(dtype, sizes):
    """``(X, y, alpha, best)``: the logistic problem, ``alpha = 1/(1e6 n)``, and its optimal objective ``L*``."""
    from fastgd import datasets

    def make():
        X, y, _ = datasets.make_classification(sizes["n_samples"], sizes["n_features"], dtype=dtype, random_state=0)
        alpha = 1.0 / (1e6 * len(y))
        return X, y, alpha, _optimum(X, y, alpha)

    return _shared(("fit", dtype, sizes["n_samples"], sizes["n_features"]), make)


def _ill_conditioned_problem(dtype, sizes):
    """``(X, y, alpha, best)``: redundant features make a logistic problem ill-conditioned: scikit-learn's
    ``make_classification`` with half the features informative (``random_state=0``), standardized, ``alpha =
    1/(1e6 n)``, and its optimal objective ``L*``."""

    def make():
        sk_datasets = _import_peer("sklearn.datasets")
        n, d = sizes["n_samples"], sizes["n_features"]
        X, y = sk_datasets.make_classification(n_samples=n, n_features=d, n_informative=d // 2, random_state=0)
        X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(dtype)
        alpha = 1.0 / (1e6 * n)
        return X, y.astype(dtype), alpha, _optimum(X, y, alpha)

    return _shared(("ill-conditioned", dtype, sizes["n_samples"], sizes["n_features"]), make)


def _ill_conditioned_fit_call(dtype, sizes, implementation):
    """A binary fit of the ill-conditioned problem timed at the smallest ``max_iter`` that reaches TARGET_GAP."""

    def gap(model):
        X, y, alpha, best = _ill_conditioned_problem(dtype, sizes)
        w, b = coefficients(model)
        return (objective(X, y, alpha, w, b) - best) / abs(best)

    return _gap_fit_call(lambda: _ill_conditioned_problem(dtype, sizes), gap, implementation)


def _optimum(X, y, alpha):
    """``L*`` from a tight float64 L-BFGS solve."""
    import fastgd

    X64, y64 = X.astype(np.float64, copy=False), y.astype(np.float64, copy=False)
    tight = fastgd.LogisticRegression(alpha=alpha, tol=1e-9, max_iter=10_000).fit(X64, y64)
    return objective(X64, y64, alpha, tight.coef_, float(tight.intercept_[0]))


def objective(X, y, alpha, w, b):
    """``mean log-loss + alpha/2 ||w||^2`` at ``(w, b)``, computed in float64 by the NumPy reference."""
    from fastgd import training
    from fastgd.backends import raw_kernels

    theta = np.concatenate([np.asarray(w, np.float64).ravel(), [b]])
    spec = training.Problem(X.astype(np.float64, copy=False), y.astype(np.float64, copy=False), None, "log_loss", alpha, True)
    return training.objective(raw_kernels("numpy"), spec, theta, np.empty_like(theta), 1)


def fit_cases(sizes, dtypes=DTYPES):
    n, d = sizes["n_samples"], sizes["n_features"]
    cases = []
    for dtype in dtypes:
        x_bytes = n * d * np.dtype(dtype).itemsize
        group = f"LogisticRegression fit (L-BFGS) {dtype} {n:,}x{d}"
        for implementation in (*BACKENDS, "sklearn"):
            prepare, describe = _fit_call(dtype, sizes, implementation, epoch=False)
            cases.append(Case("fit", group, implementation, None, prepare, describe, x_bytes))
        group = f"one mini-batch Adam epoch (batch {BATCH_SIZE}) {dtype} {n:,}x{d}"
        epoch_bytes = x_bytes + n * np.dtype(dtype).itemsize  # one epoch reads every row of X and y once
        kernels = tuple(f"{backend} {EPOCH_KERNEL}" for backend in BACKENDS if backend != REFERENCE)
        for implementation in (*BACKENDS, *kernels, "torch", "sklearn SGDClassifier"):
            prepare, describe = _fit_call(dtype, sizes, implementation, epoch=True)
            cases.append(Case("fit", group, implementation, epoch_bytes, prepare, describe, x_bytes))
    for dtype in dtypes:
        group = f"LogisticRegression fit (L-BFGS) to gap {TARGET_GAP:g} {dtype} {n:,}x{d} ill-conditioned"
        for implementation in (*BACKENDS, "sklearnex", "sklearn"):
            prepare, describe = _ill_conditioned_fit_call(dtype, sizes, implementation)
            cases.append(Case("fit", group, implementation, None, prepare, describe, n * d * np.dtype(dtype).itemsize))
    for dtype in dtypes:
        group = f"multinomial LogisticRegression fit (L-BFGS) to gap {TARGET_GAP:g} {dtype} {n:,}x{d} k={N_CLASSES}"
        for implementation in (*BACKENDS, "sklearnex", "sklearn"):
            prepare, describe = _multinomial_fit_call(dtype, sizes, implementation)
            cases.append(Case("fit", group, implementation, None, prepare, describe, n * d * np.dtype(dtype).itemsize))
    n_mlp = n // 5
    for hidden in MLP_HIDDEN:
        group = f"MLP epoch {hidden} float32 {n_mlp:,}x{d} k={N_CLASSES} batch {MLP_BATCH}"
        for implementation in (MLP_FLOOR, *BACKENDS, "torch", "sklearn"):
            cases.append(Case("fit", group, implementation, n_mlp * d * 4, _mlp_call(hidden, sizes, implementation),
                              data_bytes=n_mlp * d * 4))
    return cases


# ---------------------------------------------------------------------------------------------- multinomial fits


def _multinomial_problem(dtype, sizes):
    """``(X, y, alpha, best)``: the softmax problem, ``alpha = 1/(1e6 n)``, and its optimal objective ``L*``."""

    def make():
        X, y, _ = _softmax_problem(dtype, sizes)
        y = y.astype(np.int64)
        alpha = 1.0 / (1e6 * len(y))
        return X, y, alpha, _multinomial_optimum(X, y, alpha)

    return _shared(("multinomial", dtype, sizes["n_samples"], sizes["n_features"]), make)


def _multinomial_optimum(X, y, alpha):
    """``L*`` from a tight float64 L-BFGS solve."""
    import fastgd

    X64 = X.astype(np.float64, copy=False)
    tight = fastgd.LogisticRegression(alpha=alpha, tol=1e-10, max_iter=10_000).fit(X64, y)
    return multinomial_objective(X64, y, alpha, tight.coef_, tight.intercept_)


def multinomial_objective(X, y, alpha, coef, intercept):
    """``mean softmax cross-entropy + alpha/2 ||W||_F^2`` at ``coef`` (k, d) and ``intercept`` (k,), in float64
    by the NumPy reference."""
    from fastgd.backends import raw_kernels

    W = np.ascontiguousarray(np.asarray(coef, np.float64).T)
    b = np.asarray(intercept, np.float64).ravel()
    loss = raw_kernels("numpy").softmax_loss_grad(X.astype(np.float64, copy=False), y.astype(np.float64), W, b, None,
                                                   np.empty_like(W), np.empty_like(b), n_threads=1)
    return loss + 0.5 * alpha * float(np.sum(W * W))


def _multinomial_fit_call(dtype, sizes, implementation):
    """A multinomial fit timed at the smallest ``max_iter`` that reaches TARGET_GAP (tol 0)."""

    def gap(model):
        X, y, alpha, best = _multinomial_problem(dtype, sizes)
        return (multinomial_objective(X, y, alpha, model.coef_, model.intercept_) - best) / abs(best)

    return _gap_fit_call(lambda: _multinomial_problem(dtype, sizes), gap, implementation)


def _gap_fit_call(problem, gap, implementation):
    """(prepare, describe) for an L-BFGS fit of ``problem() -> (X, y, alpha, best)`` timed at the smallest
    ``max_iter`` whose fit has ``gap(model) <= TARGET_GAP`` (tol 0)."""
    found = {}

    def prepare():
        X, y, alpha, _ = problem()
        fit = _lbfgs_fit(implementation, alpha)
        found["max_iter"] = smallest_max_iter(lambda max_iter: gap(fit(X, y, max_iter)) <= TARGET_GAP)
        return lambda: fit(X, y, found["max_iter"])

    def describe(model):
        return {"gap": gap(model), "n_iter": int(np.max(model.n_iter_)), "max_iter": found["max_iter"]}

    return prepare, describe


def smallest_max_iter(reaches, start=4, limit=MAX_ITER_LIMIT):
    """The smallest ``max_iter`` for which ``reaches(max_iter)`` holds (``limit`` if none does), by doubling then
    bisection; a fit truncated at ``m`` iterations is a prefix of the fit at ``m + 1``, so ``reaches`` is monotone."""
    low, high = 0, start
    while not reaches(high):
        if high >= limit:
            return limit
        low, high = high, min(2 * high, limit)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def _lbfgs_fit(implementation, alpha):
    """``fit(X, y, max_iter) -> model``: fastgd's L-BFGS on a backend, scikit-learn's or scikit-learn-intelex's
    (``lbfgs``; multinomial for more than two classes), all with ``tol=0`` so that ``max_iter`` alone ends the fit."""
    if implementation in ("sklearn", "sklearnex"):
        module = _import_peer({"sklearn": "sklearn.linear_model", "sklearnex": "sklearnex.linear_model"}[implementation])

        def peer(X, y, max_iter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return module.LogisticRegression(C=1.0 / (alpha * len(y)), max_iter=max_iter, tol=0.0).fit(X, y)

        return peer
    import fastgd

    backend = _backend(implementation).name

    def fit(X, y, max_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            return fastgd.LogisticRegression(alpha=alpha, max_iter=max_iter, tol=0.0, backend=backend).fit(X, y)

    return fit


# ---------------------------------------------------------------------------------------------- MLP epochs


def _mlp_call(hidden, sizes, implementation):
    """One epoch of an MLP classifier (ReLU, Adam at 1e-3, alpha 0, batches of MLP_BATCH, from the same
    scikit-learn-style initialization) on the softmax problem's first fifth of rows, in float32."""

    def prepare():
        X, y, _ = _softmax_problem("float32", sizes)
        X, y = X[:len(X) // 5], y[:len(y) // 5].astype(np.int64)
        makers = {"torch": _torch_mlp_epoch, "sklearn": _sklearn_mlp_epoch, MLP_FLOOR: _mlp_products}
        fit = makers.get(implementation, _fastgd_mlp_epoch)
        call = fit(hidden, implementation)
        call(X, y)
        return lambda: call(X, y)

    return prepare


def _fastgd_mlp_epoch(hidden, implementation):
    import fastgd

    backend = _backend(implementation).name

    def fit(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            return fastgd.MLPClassifier(hidden, alpha=0.0, batch_size=MLP_BATCH, max_iter=1, tol=0.0, random_state=0,
                                        backend=backend).fit(X, y)

    return fit


def _mlp_products(hidden, implementation):
    """The floor of an MLP epoch: its matrix products alone, with NumPy's BLAS, on contiguous batches.

    Per batch ``A_0`` and layer ``l``: forward ``A_l = A_{l-1} @ W_l``; backward ``A_{l-1}.T @ D_l`` (the
    weight gradient) and, below the top layer, ``D_l @ W_l.T`` (the delta of the layer underneath).
    """

    def fit(X, y):
        widths = (X.shape[1], *hidden, N_CLASSES)
        rng = np.random.default_rng(0)
        weights = [rng.standard_normal((a, b)).astype(X.dtype) for a, b in zip(widths[:-1], widths[1:])]
        grads = [np.empty_like(W) for W in weights]
        batches = [X[start:start + MLP_BATCH] for start in range(0, len(X), MLP_BATCH)]
        for batch in batches:
            outputs = [batch]
            for W in weights:
                outputs.append(outputs[-1] @ W)
            delta = outputs[-1]
            for layer in range(len(weights) - 1, -1, -1):
                np.matmul(outputs[layer].T, delta, out=grads[layer])
                if layer:
                    delta = delta @ weights[layer].T
        return grads

    return fit


def _sklearn_mlp_epoch(hidden, implementation):
    neural_network = _import_peer("sklearn.neural_network")

    def fit(X, y):
        model = neural_network.MLPClassifier(hidden, alpha=0.0, batch_size=MLP_BATCH, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y)

    return fit


def _torch_mlp_epoch(hidden, implementation):
    """``nn.Sequential`` of Linear + ReLU layers, ``cross_entropy``, Adam, the same batches in a Python loop."""
    torch = _import_peer("torch")

    def fit(X, y):
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        widths = [X.shape[1], *hidden]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], N_CLASSES))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        order = torch.randperm(len(yt), generator=torch.Generator().manual_seed(0))
        for start in range(0, len(yt), MLP_BATCH):
            rows = order[start:start + MLP_BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
            opt.step()
        return model

    return fit


def _fit_call(dtype, sizes, implementation, epoch):
    """(prepare, describe) for one fit; ``describe`` reports the objective gap ``(L - L*) / |L*|``."""

    def prepare():
        X, y, alpha, _ = fit_problem(dtype, sizes)
        fit = make_fit(implementation, alpha, epoch)
        fit(X, y)
        return lambda: fit(X, y)

    def describe(model):
        X, y, alpha, best = fit_problem(dtype, sizes)
        w, b = coefficients(model)
        facts = {"gap": (objective(X, y, alpha, w, b) - best) / abs(best)}
        if hasattr(model, "n_iter_"):
            facts["n_iter"] = int(np.max(model.n_iter_))
        return facts

    return prepare, describe


def make_fit(implementation, alpha, epoch):
    """``fit(X, y) -> fitted model`` for a fastgd backend or a peer."""
    if implementation.endswith(EPOCH_KERNEL):
        return _epoch_kernel(implementation.split()[0], alpha)
    if implementation == "torch":
        return _torch_epoch(alpha)
    if implementation.startswith("sklearn"):
        return _sklearn_fit(alpha, epoch)
    import fastgd

    backend = _backend(implementation).name
    options = dict(optimizer="adam", lr=1e-3, batch_size=BATCH_SIZE, max_iter=1, tol=0.0, random_state=0) if epoch else {}

    def fit(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            return fastgd.LogisticRegression(alpha=alpha, backend=backend, **options).fit(X, y)

    return fit


def _epoch_kernel(backend_name, alpha):
    """The compiled epoch of a one-epoch ``fit`` alone: ``minibatch_epoch`` of the backend on a permutation made
    once, from zero parameters and a new Adam state at each call; returns a stand-in model with ``coef_``.

    What ``fit`` adds to it (validation, label encoding, the permutation, the
    diagnostics) is the difference between this case and the backend's ``fit``.
    """
    from types import SimpleNamespace

    from fastgd import optim, training

    kernels = _backend(backend_name)
    n_threads = _threads()
    orders = {}

    def fit(X, y):
        if len(y) not in orders:
            orders[len(y)] = np.random.default_rng(0).permutation(len(y))
        order = orders[len(y)]
        theta, grad = np.zeros(X.shape[1] + 1, dtype=X.dtype), np.empty(X.shape[1] + 1)
        adam = optim.Adam(lr=1e-3)
        kernels.minibatch_epoch(X, y, None, order, theta, grad_mean=grad, **adam.bind(theta),
                                loss=training.LOSS_CODES["log_loss"], batch_size=BATCH_SIZE, alpha=alpha,
                                decoupled=False, fit_intercept=True, n_threads=n_threads)
        return SimpleNamespace(coef_=theta[:-1], intercept_=theta[-1:])

    return fit


def _sklearn_fit(alpha, epoch):
    """scikit-learn's ``LogisticRegression`` (lbfgs, its defaults) or one ``SGDClassifier`` epoch."""
    linear_model = _import_peer("sklearn.linear_model")

    def fit(X, y):
        if epoch:
            model = linear_model.SGDClassifier(loss="log_loss", alpha=alpha, max_iter=1, tol=None, random_state=0)
        else:
            model = linear_model.LogisticRegression(C=1.0 / (alpha * len(y)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y)

    return fit


def _torch_epoch(alpha):
    """One epoch of ``nn.Linear`` + ``BCEWithLogitsLoss`` + Adam from zero, batch 1024, shuffled."""
    torch = _import_peer("torch")

    def fit(X, y):
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        model = torch.nn.Linear(X.shape[1], 1).to(Xt.dtype)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        order = torch.randperm(len(yt), generator=torch.Generator().manual_seed(0))
        for start in range(0, len(yt), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(model(Xt[rows]).squeeze(1), yt[rows]) + 0.5 * alpha * (model.weight**2).sum()
            loss.backward()
            opt.step()
        return model

    return fit


def coefficients(model):
    """``(w, b)`` of a fitted fastgd, scikit-learn or PyTorch linear model."""
    if hasattr(model, "coef_"):
        return np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])
    return model.weight.detach().numpy().ravel(), float(model.bias.detach().numpy()[0])



# ---------------------------------------------------------------------------------------------- Dask fits

DASK_CHUNKS = 8  # row chunks of the Dask cases' X
DASK_WORKERS = 2  # worker processes of the local cluster, one thread each
DASK_ML_SOLVERS = ("newton", "lbfgs", "gradient_descent")  # admm: 212 s on the large problem (the Dask issue), left out
ROUND_TRIP = "round trip"  # one empty task on the cluster, there and back


def dask_cases(sizes):
    """A float64 L-BFGS fit to TARGET_GAP on a local cluster of DASK_WORKERS processes, the data in DASK_CHUNKS row
    chunks persisted before the clock starts: fastgd on the Dask arrays and in one process (``tol=0``, the smallest
    ``max_iter`` reaching the gap), dask-ml's solvers and one round trip to the cluster.  A dask-ml solver is timed
    with its default settings; when that fit reaches the gap, with ``tol=0`` and the smallest ``max_iter`` that
    does.  When it does not, its time is a lower bound of its time to the gap (a longer run starts with it)."""
    n, d = sizes["n_samples"], sizes["n_features"]
    group = (f"Dask LogisticRegression fit to gap {TARGET_GAP:g} float64 {n:,}x{d} in {DASK_CHUNKS} chunks, "
             f"{DASK_WORKERS} workers")
    implementations = ("cython dask", "cython", *(f"dask-ml {solver}" for solver in DASK_ML_SOLVERS), ROUND_TRIP)
    return [Case("dask", group, implementation, None, *_dask_call(sizes, implementation), data_bytes=n * d * 8)
            for implementation in implementations]


_cluster = {}


def _dask_client():
    """A client of the benchmark's local cluster (started once per process, closed at exit)."""
    if "client" not in _cluster:
        _import_peer("dask.array")
        distributed = _import_peer("distributed")
        import atexit

        environment = dict(os.environ)  # starting the cluster sets OMP_NUM_THREADS=1 (for its workers) here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cluster = distributed.LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
        os.environ.clear()
        os.environ.update(environment)
        _cluster.update(cluster=cluster, client=distributed.Client(cluster))
        atexit.register(lambda: (_cluster["client"].close(), _cluster["cluster"].close()))
    return _cluster["client"]


def _dask_problem(sizes):
    """``(X, y, Xd, yd, alpha, best)``: the float64 logistic problem of the fit cases, and its copies persisted on
    the cluster in DASK_CHUNKS row chunks."""

    def make():
        import dask.array as da
        from distributed import wait

        client = _dask_client()
        X, y, alpha, best = fit_problem("float64", sizes)
        edges = np.linspace(0, len(y), DASK_CHUNKS + 1).astype(int)
        arrays = []
        for data in (X, y):  # each block sent to a worker once (a graph holding the data is sent at every compute)
            blocks = client.scatter([data[a:b] for a, b in zip(edges[:-1], edges[1:])])
            arrays.append(da.concatenate([da.from_delayed(block, (b - a, *data.shape[1:]), data.dtype)
                                          for block, a, b in zip(blocks, edges[:-1], edges[1:])]))
        arrays = client.persist(arrays)  # the arrays' own blocks in the workers' memory, as a user's X.persist()
        wait(arrays)
        return X, y, *arrays, alpha, best

    return _shared(("dask", sizes["n_samples"], sizes["n_features"]), make)


def _dask_call(sizes, implementation):
    """(prepare, describe) of one Dask case."""
    found = {}

    def gap(model):
        X, y, _, _, alpha, best = _dask_problem(sizes)
        w, b = coefficients(model)
        return (objective(X, y, alpha, w, b) - best) / abs(best)

    def prepare():
        client = _dask_client()
        X, y, Xd, yd, alpha, _ = _dask_problem(sizes)
        if implementation == ROUND_TRIP:
            return lambda: client.submit(int, 0, pure=False).result()
        fit = _dask_fit(implementation, alpha)
        data = (X, y) if implementation == "cython" else (Xd, yd)
        if implementation.startswith("dask-ml") and gap(fit(*data, None)) > TARGET_GAP:
            found["max_iter"] = "default"
            return lambda: fit(*data, None)
        found["max_iter"] = smallest_max_iter(lambda max_iter: gap(fit(*data, max_iter)) <= TARGET_GAP)
        return lambda: fit(*data, found["max_iter"])

    def describe(model):
        if implementation == ROUND_TRIP:
            return {}
        facts = {"gap": gap(model), "max_iter": found["max_iter"]}
        if hasattr(model, "n_iter_"):  # dask-ml's models do not say
            facts["n_iter"] = int(np.max(model.n_iter_))
        return facts

    return prepare, describe


def _dask_fit(implementation, alpha):
    """``fit(X, y, max_iter) -> model`` with ``tol=0``: fastgd (on Dask or NumPy arrays) or a dask-ml solver
    (``max_iter=None``: its default ``max_iter`` and ``tol``)."""
    if implementation.startswith("dask-ml"):
        linear_model = _import_peer("dask_ml.linear_model")
        solver = implementation.split(" ", 1)[1]

        def peer(X, y, max_iter):
            limits = {} if max_iter is None else {"max_iter": max_iter, "tol": 0.0}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return linear_model.LogisticRegression(solver=solver, C=1.0 / (alpha * len(y)), **limits).fit(X, y)

        return peer
    return _lbfgs_fit("cython", alpha)
