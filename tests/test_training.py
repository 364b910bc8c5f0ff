"""The compiled mini-batch epoch against the NumPy loop, and the fit loop's stop rules."""

import math
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import optim, training
from fastgd import schedules as sch
from fastgd.backends import _spec, reference

# (optimizer code, hyper-parameters in _spec.HYPER_LAYOUT order)
EPOCH_OPTIMIZERS = {
    "sgd": (0, (0.05, 0.0, 0.0, 0.0)),
    "sgd-nesterov": (0, (0.01, 0.9, 0.0, 1.0)),
    "sgd-dampened": (0, (0.01, 0.9, 0.3, 0.0)),
    "adagrad": (1, (0.1, 0.01, 1e-10)),
    "rmsprop": (2, (0.01, 0.99, 1e-8, 0.0, 0.0)),
    "rmsprop-centered-momentum": (2, (0.01, 0.9, 1e-8, 0.5, 1.0)),
    "adam": (3, (0.01, 0.9, 0.999, 1e-8, 0.0)),
    "adam-amsgrad": (3, (0.01, 0.8, 0.99, 1e-8, 1.0)),
}


def epoch_problem(n, d, dtype, loss, weighted, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if loss == 0:
        y = (rng.random(n) < 0.5).astype(dtype)
    else:
        y = (X @ rng.standard_normal(d) + rng.standard_normal(n)).astype(dtype)
    weights = (rng.random(n) * 2).astype(dtype) if weighted else None
    return X, y, weights


def run_epochs(kernel, X, y, weights, *, loss, code, hyper, batch_size, alpha=0.01, fit_intercept=True,
               clip_value=math.inf, clip_norm=math.inf, epochs=3, n_threads=1, seed=0):
    d = X.shape[1]
    params = np.zeros(d + 1, dtype=X.dtype)
    state = np.zeros((3, d + 1), dtype=X.dtype)
    grad_mean = np.full(d + 1, np.nan)
    rng = np.random.default_rng(seed)
    results, step = [], 0
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        epoch_loss, n_steps = kernel(X, y, weights, order, params, state, grad_mean, loss=loss, optimizer=code,
                                     hyper=np.asarray(hyper, dtype=np.float64), step=step, batch_size=batch_size,
                                     alpha=alpha, fit_intercept=fit_intercept, clip_value=clip_value,
                                     clip_norm=clip_norm, n_threads=n_threads)
        step += n_steps
        results.append((epoch_loss, n_steps, grad_mean.copy()))
    return params, state, results


@pytest.mark.parametrize("optimizer", list(EPOCH_OPTIMIZERS))
@pytest.mark.parametrize("loss", [0, 1], ids=["log_loss", "squared_error"])
@pytest.mark.parametrize("batch_size", [1, 7, 64, 5000])
def test_compiled_epoch_matches_numpy_loop(compiled_backend, optimizer, loss, batch_size, dtype, n_threads):
    code, hyper = EPOCH_OPTIMIZERS[optimizer]
    X, y, weights = epoch_problem(301 if batch_size < 64 else 1003, 9, dtype, loss, weighted=batch_size == 7)
    options = dict(loss=loss, code=code, hyper=hyper, batch_size=batch_size, n_threads=n_threads)
    params, state, results = run_epochs(compiled_backend.minibatch_epoch, X, y, weights, **options)
    params_ref, state_ref, results_ref = run_epochs(reference.minibatch_epoch, X, y, weights, **options)
    rtol, atol = (1e-9, 1e-11) if dtype == np.float64 else (5e-4, 5e-5)
    np.testing.assert_allclose(params, params_ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(state, state_ref, rtol=rtol, atol=atol)
    for (epoch_loss, n_steps, grad), (epoch_loss_ref, n_steps_ref, grad_ref) in zip(results, results_ref):
        assert n_steps == n_steps_ref
        assert epoch_loss == pytest.approx(epoch_loss_ref, rel=rtol, abs=atol)
        np.testing.assert_allclose(grad, grad_ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("clipping", [dict(clip_value=0.05), dict(clip_norm=0.1), dict(clip_value=0.05, clip_norm=0.1)], ids=str)
def test_compiled_epoch_clipping_and_no_intercept(compiled_backend, clipping, dtype):
    code, hyper = EPOCH_OPTIMIZERS["adam"]
    X, y, weights = epoch_problem(500, 6, dtype, 1, weighted=True, seed=4)
    options = dict(loss=1, code=code, hyper=hyper, batch_size=32, fit_intercept=False, **clipping)
    params, state, _ = run_epochs(compiled_backend.minibatch_epoch, X, y, weights, **options)
    params_ref, state_ref, _ = run_epochs(reference.minibatch_epoch, X, y, weights, **options)
    assert params[-1] == 0.0 and params_ref[-1] == 0.0
    rtol, atol = (1e-9, 1e-11) if dtype == np.float64 else (5e-4, 5e-5)
    np.testing.assert_allclose(params, params_ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(state, state_ref, rtol=rtol, atol=atol)


def test_epoch_skips_batches_of_zero_weight(backend):
    X, y, _ = epoch_problem(40, 3, np.float64, 0, weighted=False)
    weights = np.zeros(40)
    weights[::2] = 1.0
    order = np.arange(40)
    order = np.concatenate([order[1::2], order[::2]])  # the first 20 rows all weigh 0
    params, state, grad = np.zeros(4), np.zeros((3, 4)), np.empty(4)
    code, hyper = EPOCH_OPTIMIZERS["sgd"]
    _, n_steps = backend.minibatch_epoch(X, y, weights, order, params, state, grad, loss=0, optimizer=code,
                                         hyper=np.asarray(hyper), step=0, batch_size=10, alpha=0.0, fit_intercept=True,
                                         clip_value=math.inf, clip_norm=math.inf, n_threads=1)
    assert n_steps == 2


def test_hyper_layout_covers_every_optimizer():
    assert set(_spec.HYPER_LAYOUT) == set(_spec.OPTIMIZER_CODES.values())
    for cls in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam):
        name, hyper = cls()._epoch_hyper()
        assert len(hyper) == len(_spec.HYPER_LAYOUT[_spec.OPTIMIZER_CODES[name]])


# ---- the fit loop: history and stop reasons -----------------------------------------------------


def standardized_classification(n=2000, d=8, seed=0, dtype=np.float64):
    X, y, _ = fastgd.datasets.make_classification(n, d, random_state=seed, dtype=dtype)
    return X, y


@pytest.mark.parametrize("batch_size", [None, 64])
def test_history_records_every_epoch(backend, batch_size):
    X, y = standardized_classification()
    model = fastgd.LogisticRegression(optimizer="adam", lr=0.05, batch_size=batch_size, max_iter=8, tol=0.0,
                                      backend=backend.name, random_state=0)
    with pytest.warns(fastgd.ConvergenceWarning, match="max_iter=8"):
        model.fit(X, y)
    assert model.stop_reason_ == "max_iter" and model.n_iter_ == 8
    for name in ("loss", "grad_norm", "grad_change", "lr"):
        assert model.history_[name].shape == (8,)
    assert math.isnan(model.history_["grad_change"][0]) and np.isfinite(model.history_["grad_change"][1:]).all()
    assert model.history_["loss"][-1] < model.history_["loss"][0]


def test_converged_means_a_small_gradient(backend):
    X, y = standardized_classification()
    model = fastgd.LogisticRegression(tol=1e-6, backend=backend.name).fit(X, y)
    assert model.stop_reason_ == "converged"
    assert model.history_["grad_norm"][-1] <= 1e-6


def test_stalled_means_no_progress_while_the_gradient_is_not_small(backend):
    X, y = standardized_classification()
    model = fastgd.LogisticRegression(optimizer="sgd", lr=1e-7, tol=1e-4, max_iter=200, backend=backend.name).fit(X, y)
    assert model.stop_reason_ == "stalled" and model.n_iter_ == 1 + 5  # the first epoch, then 5 without progress
    assert model.history_["grad_norm"][-1] > 1e-4


def test_diverged_keeps_the_last_finite_parameters(backend):
    """A huge learning rate on unscaled data: the run stops and says what to do."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 4)) * 1e3
    y = X @ np.ones(4) + rng.standard_normal(500)
    model = fastgd.LinearRegression(optimizer="sgd", lr=1.0, max_iter=100, backend=backend.name)
    with pytest.warns(RuntimeWarning, match="diverged .* lower the learning rate"):
        model.fit(X, y)
    assert model.stop_reason_ == "diverged"
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_)
    assert np.isfinite(model.history_["loss"]).all()


def test_diverged_in_mini_batches_restores_the_epoch_start(backend):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3)) * 1e3
    y = X @ np.ones(3)
    model = fastgd.LinearRegression(optimizer="sgd", lr=0.5, batch_size=32, max_iter=50, backend=backend.name)
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X, y)
    assert model.stop_reason_ == "diverged" and np.isfinite(model.coef_).all()


def test_clip_norm_is_the_fix_for_that_divergence(backend):
    """The same run with clip_norm (and a decaying rate) stays finite and descends."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 4)) * 1e3
    y = X @ np.ones(4) + rng.standard_normal(500)
    model = fastgd.LinearRegression(optimizer="sgd", clip_norm=1.0, schedule=sch.ExponentialDecay(1.0, 0.9),
                                    max_iter=300, backend=backend.name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X, y)
    assert model.stop_reason_ in ("stalled", "converged")
    assert model.history_["loss"][-1] < model.history_["loss"][0] / 100


def test_reduce_on_plateau_stalls_only_at_its_floor(backend):
    X, y = standardized_classification()
    rule = sch.ReduceLROnPlateau(1e-5, factor=0.5, patience=0, min_lr=1e-7, eps=0.0)
    model = fastgd.LogisticRegression(optimizer="sgd", schedule=rule, max_iter=200, backend=backend.name).fit(X, y)
    assert model.stop_reason_ == "stalled"
    rates = model.history_["lr"]
    assert rates[0] == 1e-5 and rates[-1] < 2e-7 and (np.diff(rates) <= 0).all()


def test_bold_driver_and_armijo_reach_the_optimum(backend):
    X, y = standardized_classification()
    best = fastgd.LogisticRegression(tol=1e-8, backend=backend.name).fit(X, y).history_["loss"][-1]
    for schedule in (sch.BoldDriver(0.5), sch.ArmijoLineSearch(lr=4.0)):
        model = fastgd.LogisticRegression(optimizer="sgd", schedule=schedule, tol=1e-5, max_iter=2000,
                                          backend=backend.name).fit(X, y)
        assert model.history_["loss"][-1] == pytest.approx(best, rel=1e-5), schedule


def test_same_seed_same_parameters_across_backends(compiled_backend):
    X, y = standardized_classification(dtype=np.float32)
    options = dict(optimizer="adam", lr=0.01, batch_size=100, max_iter=4, tol=0.0, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        compiled = fastgd.LogisticRegression(**options, backend=compiled_backend.name).fit(X, y)
        reference_fit = fastgd.LogisticRegression(**options, backend="numpy").fit(X, y)
    np.testing.assert_allclose(compiled.coef_, reference_fit.coef_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(compiled.history_["loss"], reference_fit.history_["loss"], rtol=1e-4)


def test_bind_optimizer_state_shares_memory():
    theta = np.zeros(4)
    opt = optim.RMSprop(momentum=0.5, centered=True)
    matrix = training.bind_optimizer_state(opt, theta)
    opt.step([theta], [np.ones(4)])
    np.testing.assert_array_equal(matrix[0], opt.state[0]["square_avg"])
    assert np.shares_memory(matrix, opt.state[0]["grad_avg"])


def test_verbose_prints_a_line_per_epoch(capsys):
    X, y = standardized_classification(500, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.LogisticRegression(optimizer="adam", lr=0.05, max_iter=3, tol=0.0, verbose=2, backend="numpy").fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3 and "loss" in lines[0] and "grad_norm" in lines[0]
