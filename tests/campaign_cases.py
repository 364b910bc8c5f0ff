"""The bad-input campaign: generated bad and extreme inputs for every public function,
optimizer and estimator, on every backend and dtype.

The property, for every generated call: a ``ValueError`` or ``TypeError`` with a
message, or a finite result that matches the NumPy reference (for a fit: finite
parameters and a documented stop reason) -- never a crash, a silent wrong answer,
or state changed by a call that failed.

This module is not collected by the default suite: ``tests/test_campaign.py``
runs it in a child process (so that a crash fails that test, not the run), with
few examples.  The large run is its own command::

    FASTGD_CAMPAIGN=large FASTGD_CAMPAIGN_REPORT=campaign.md python -m pytest tests/campaign_cases.py -p no:cacheprovider

which writes the table of outcomes (group, backend, outcome, count) to the report.
"""

import atexit
import collections
import copy
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import losses, optim, training
from fastgd.neural_network import MLPClassifier, MLPRegressor  # noqa: F401 (fastgd loads them lazily)

settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("large", max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("large" if os.environ.get("FASTGD_CAMPAIGN") == "large" else "ci")

BACKENDS = fastgd.available_backends()
OUTCOMES = collections.Counter()


@atexit.register
def _write_report():
    path = os.environ.get("FASTGD_CAMPAIGN_REPORT")
    if path and OUTCOMES:
        with open(path, "w") as f:
            f.write("| group | backend | outcome | cases |\n|---|---|---|---|\n")
            for (group, backend, outcome), count in sorted(OUTCOMES.items()):
                f.write(f"| {group} | {backend} | {outcome} | {count} |\n")
            f.write(f"| all | | | {sum(OUTCOMES.values())} |\n")


def outcome(call):
    """``("ok", result)`` or ``("ValueError" | "TypeError", message)``; any other exception
    propagates and fails the test.  A clear error names something: it is never empty."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return "ok", call()
    except (ValueError, TypeError) as error:
        assert str(error).strip(), f"{type(error).__name__} without a message"
        return type(error).__name__, str(error)


def record(group, backend, kind):
    OUTCOMES[group, backend, "ok" if kind == "ok" else "clear error"] += 1


# ---- generated values ---------------------------------------------------------------------------

EXTREMES = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, 1e-45, 3e38, 1e300, -1e300, np.nan, np.inf, -np.inf]
DTYPES = ["float64", "float32", "int64", "bool", ">f8", ">f4", "float16", "complex128", "object"]


@st.composite
def arrays(draw, shape):
    """An array of ``shape`` with a generated dtype, values (normal, extreme or both) and layout."""
    dtype = draw(st.sampled_from(["float64"] * 6 + ["float32"] * 4 + DTYPES))  # mostly valid, so most calls run
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(["normal"] * 3 + ["extreme", "mixed"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(size) * draw(st.sampled_from([1.0, 1e3, 1e-3]))
    if kind != "normal" and size:
        picks = rng.choice(len(EXTREMES), size=size)
        mask = np.ones(size, bool) if kind == "extreme" else rng.random(size) < 0.2
        values[mask] = np.asarray(EXTREMES)[picks[mask]]
    if dtype == "object":
        array = np.array(["a"] * size, dtype=object) if draw(st.booleans()) else values.astype(object)
    else:
        with np.errstate(all="ignore"):
            array = values.astype(dtype)
    array = array.reshape(shape)
    layout = draw(st.sampled_from(["contiguous"] * 3 + ["strided", "read-only", "fortran"]))
    if layout == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=0)[::2]
    elif layout == "read-only":
        array.flags.writeable = False
    elif layout == "fortran":
        array = np.asfortranarray(array)
    return array


N_THREADS = st.sampled_from([None, 1, 2] * 4 + [3, 64, 40_000, 0, -1, 2**31, 2**63, 1.5, "2", True])
SIZES = st.integers(0, 6) | st.sampled_from([17, 257])


def finite(result):
    parts = result if isinstance(result, tuple) else (result,)
    return all(np.isfinite(np.asarray(p, dtype=np.float64)).all() for p in parts)


def assert_matches(result, expected, dtype):
    rtol = 1e-3 if dtype == np.float32 else 1e-8
    for got, want in zip(result if isinstance(result, tuple) else (result,),
                         expected if isinstance(expected, tuple) else (expected,)):
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))  # infinities must match exactly
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def compare_backends(group, run, finite_results=True):
    """``run(backend)`` on every backend: the same kind of outcome, matching results, finite
    unless ``finite_results`` is False (an elementwise function of an infinite input)."""
    reference_kind, reference = outcome(lambda: run("numpy"))
    record(group, "numpy", reference_kind)
    if reference_kind == "ok" and finite_results:
        assert finite(reference), f"numpy returned a non-finite result: {reference}"
    for name in BACKENDS:
        if name == "numpy":
            continue
        kind, result = outcome(lambda: run(name))
        record(group, name, kind)
        overflow = "overflow" in str(reference) + str(result)  # the compiled sums are wider than BLAS's
        if kind != reference_kind:
            assert overflow, f"{name}: {kind} {result!r} where numpy gave {reference_kind} {reference!r}"
            continue
        if kind == "ok":
            assert finite(result) or not finite_results, f"{name} returned a non-finite result"
            assert_matches(result, reference, _dtype_of(result))


def _dtype_of(result):
    """float32 when any part of the result is float32 (its tolerance), else float64."""
    parts = result if isinstance(result, tuple) else (result,)
    return np.dtype(np.float32) if any(np.asarray(p).dtype == np.float32 for p in parts) else np.dtype(np.float64)


# ---- the public loss functions ------------------------------------------------------------------


@given(n=SIZES, d=st.integers(0, 4), data=st.data(), n_threads=N_THREADS,
       loss=st.sampled_from(["logistic", "squared"]), weighted=st.booleans(),
       b=st.sampled_from([0.0, 0.5, -3.0, 1e300, np.nan, np.inf, "1", None, True]))
def test_loss_functions(n, d, data, n_threads, loss, weighted, b):
    X = data.draw(arrays((n, d)))
    y = data.draw(st.sampled_from([(np.arange(n) % 2).astype(float), data.draw(arrays((n,)))]))
    w = data.draw(arrays((d,)))
    sample_weight = data.draw(arrays((n,))) if weighted else None
    function = losses.logistic_loss_grad if loss == "logistic" else losses.squared_loss_grad
    compare_backends(f"{loss}_loss_grad", lambda backend: function(X, y, w, b, sample_weight, backend=backend,
                                                                   n_threads=n_threads))


@given(n=SIZES, d=st.integers(0, 4), data=st.data(), n_threads=N_THREADS)
def test_linear_predict(n, d, data, n_threads):
    X, w = data.draw(arrays((n, d))), data.draw(arrays((d,)))
    compare_backends("linear_predict", lambda backend: losses.linear_predict(X, w, 0.25, backend=backend,
                                                                             n_threads=n_threads))


@given(shape=st.sampled_from([(), (0,), (1,), (7,), (3, 4), (257,)]), data=st.data(), n_threads=N_THREADS,
       function=st.sampled_from(["sigmoid", "log1pexp"]), out=st.sampled_from(["none", "fresh", "alias", "overlap",
                                                                               "wrong", "read-only"]))
def test_elementwise(shape, data, n_threads, function, out):
    z = data.draw(arrays(shape))

    def run(backend):
        source = np.array(z, copy=True) if out in ("alias", "overlap") else z
        target = {"none": None, "fresh": "fresh", "alias": source, "wrong": np.empty(3), "read-only": "read-only"}.get(out)
        if out == "overlap" and source.ndim == 1 and source.size > 1 and source.dtype.kind == "f" and source.dtype.isnative:
            buffer = np.concatenate([source, source[-1:]])
            source, target = buffer[:-1], buffer[1:]
        if isinstance(target, str):
            target = np.empty(np.shape(source), dtype=np.float64)
            target.flags.writeable = out != "read-only"
        return getattr(losses, function)(source, out=target, backend=backend, n_threads=n_threads)

    compare_backends(function, run, finite_results=False)  # log1pexp(inf) = inf, as it should


# ---- the optimizers ------------------------------------------------------------------------------

HYPER_VALUES = st.sampled_from([1e-3, 0.5, 0.9, (0.9, 0.999)] * 3 + [0.0, 1.0, 2.0, 1e300, -1.0, np.nan, np.inf, True,
                                                                   "0.1", None, (0.9, 2.0), (np.nan, 0.5)])


@given(name=st.sampled_from([n for n in optim.__all__ if n != "Optimizer"]), data=st.data(),
       sizes=st.lists(SIZES, min_size=1, max_size=3), steps=st.integers(1, 3),
       clip_value=st.sampled_from([None, 0.5, 1e-300, 0.0, -1.0, np.nan, np.inf]),
       clip_norm=st.sampled_from([None, 1.0, 1e300, 0.0, np.nan]), check_finite=st.booleans(), n_threads=N_THREADS)
def test_optimizers(name, data, sizes, steps, clip_value, clip_norm, check_finite, n_threads):
    cls = getattr(optim, name)
    hyper = {h: data.draw(HYPER_VALUES) for h in data.draw(st.sets(st.sampled_from(cls.hyperparameters), max_size=2))}
    params = [data.draw(arrays((n,))) for n in sizes]
    grads = [[data.draw(arrays((n,))) for n in sizes] for _ in range(steps)]

    def run(backend):
        opt = cls(**hyper, clip_value=clip_value, clip_norm=clip_norm, check_finite=check_finite, backend=backend,
                  n_threads=n_threads)
        own = [np.array(p, copy=True) if isinstance(p, np.ndarray) else p for p in params]
        for step_grads in grads:
            before = ([np.array(p, copy=True) for p in own], copy.deepcopy(opt.state_dict()))
            kind, message = outcome(lambda: opt.step(own, step_grads))
            if kind != "ok":  # a failed step changes nothing
                for p, kept in zip(own, before[0]):
                    np.testing.assert_array_equal(p, kept)
                assert _same_state(opt.state_dict(), before[1]), f"state changed by a failed step: {message}"
                raise ValueError(message) if kind == "ValueError" else TypeError(message)
        started_finite = all(np.isfinite(p).all() for p in params if p.dtype.kind in "fiub")
        if check_finite and started_finite:  # check_finite guards the gradients; inf in p stays inf
            assert all(np.isfinite(p).all() for p in own), "a checked step produced non-finite parameters"
        return tuple(own) if check_finite and started_finite else ()

    compare_backends(f"optim.{name}", run)


def _same_state(a, b):
    if a["step"] != b["step"] or (a["state"] is None) != (b["state"] is None):
        return False
    for buffers_a, buffers_b in zip(a["state"] or [], b["state"] or []):
        for key in buffers_a:
            if not np.array_equal(buffers_a[key], buffers_b[key], equal_nan=True):
                return False
    return True


# ---- the estimators -------------------------------------------------------------------------------

def _mostly(valid, invalid):
    """Values drawn from ``valid`` four times as often as from ``invalid``."""
    return st.sampled_from(list(valid) * 4 + list(invalid))


ESTIMATOR_OPTIONS = st.fixed_dictionaries({}, optional={
    "alpha": _mostly([0.0, 1e-4, 1e6], [-1.0, np.nan, "1"]),
    "optimizer": _mostly(["auto", "lbfgs", "sgd", "adam", "adamw", "nadam"], ["bogus"]),
    "lr": _mostly([None, 1e-3, 1e6], [0.0, -1.0]),
    "batch_size": _mostly([None, 1, 7, 2**40], [2**63, 0]),
    "max_iter": _mostly([1, 3], [0, 2**63]),
    "tol": _mostly([0.0, 1e-4], [-1.0, np.inf]),
    "clip_norm": _mostly([None, 1e-3], [0.0]),
    "early_stopping": st.booleans(),
    "n_threads": N_THREADS,
})


@given(estimator=st.sampled_from(["LinearRegression", "LogisticRegression", "MLPClassifier", "MLPRegressor"]),
       n=SIZES, d=st.integers(0, 3),
       labels=st.sampled_from(["binary", "one class", "three classes", "strings", "mixed", "continuous", "generated"]),
       weighted=st.booleans(), options=ESTIMATOR_OPTIONS, data=st.data())
def test_estimators(estimator, n, d, labels, weighted, options, data):
    X = data.draw(arrays((n, d)))
    rows = np.arange(n)
    y = {"binary": rows % 2, "one class": np.zeros(n), "three classes": rows % 3,
         "strings": np.array(["no", "yes"] * n, dtype=object)[:n], "mixed": np.array([1, "a"] * n, dtype=object)[:n],
         "continuous": rows * 0.37}.get(labels)
    y = data.draw(arrays((n,))) if y is None else y
    sample_weight = data.draw(arrays((n,))) if weighted else None

    network = estimator.startswith("MLP")
    if network:
        options["hidden_layer_sizes"] = data.draw(_mostly([(3,), (2, 2), ()], [0, (4, -1), "3"]))
        options["activation"] = data.draw(_mostly(["relu", "tanh", "logistic", "identity"], ["softplus"]))

    def run(backend):
        model = getattr(fastgd, estimator)(**options, max_iter=options.get("max_iter", 3), backend=backend,
                                            random_state=0)
        model.fit(X, y, sample_weight=sample_weight)
        assert model.stop_reason_ in training.STOP_REASONS
        parameters = [*model.coefs_, *model.intercepts_] if network else [model.coef_, model.intercept_]
        assert all(np.isfinite(p).all() for p in parameters), model.stop_reason_
        assert model.predict(np.zeros((2, d))).shape == (2,)
        return ()

    kind, result = outcome(lambda: run("numpy"))
    record(estimator, "numpy", kind)
    for name in BACKENDS:
        if name != "numpy":
            other, message = outcome(lambda: run(name))
            record(estimator, name, other)
            assert other == kind or "overflow" in str(message) + str(result), (name, other, message, kind, result)


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_is_exercised(name):
    assert name in fastgd.available_backends()
