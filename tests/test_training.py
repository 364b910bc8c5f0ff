"""The compiled mini-batch epoch against the NumPy loop, and the fit loop's stop rules."""

import copy
import math
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import optim, training
from fastgd import schedules as sch
from fastgd.backends import reference

# optimizer declarations covering every branch of every rule inside a compiled epoch
EPOCH_OPTIMIZERS = {
    "sgd": optim.SGD(lr=0.05),
    "sgd-nesterov": optim.SGD(lr=0.01, momentum=0.9, nesterov=True),
    "sgd-dampened": optim.SGD(lr=0.01, momentum=0.9, dampening=0.3),
    "adagrad": optim.Adagrad(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": optim.RMSprop(lr=0.01),
    "rmsprop-centered-momentum": optim.RMSprop(lr=0.01, alpha=0.9, momentum=0.5, centered=True),
    "adam": optim.Adam(lr=0.01),
    "adam-amsgrad": optim.Adam(lr=0.01, betas=(0.8, 0.99), amsgrad=True),
    "adamw": optim.AdamW(lr=0.01, weight_decay=0.05),
    "nadam": optim.NAdam(lr=0.01, momentum_decay=0.01),
    "nadam-decoupled": optim.NAdam(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True),
    "adamax": optim.Adamax(lr=0.01, betas=(0.8, 0.9)),
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


def run_epochs(kernel, X, y, weights, *, loss, optimizer, batch_size, alpha=0.01, fit_intercept=True,
               clip_value=None, clip_norm=None, epochs=3, n_threads=1, seed=0):
    """Epochs of ``kernel`` from zero with a fresh copy of ``optimizer`` bound to the parameters."""
    opt = copy.deepcopy(optimizer)
    opt.clip_value, opt.clip_norm = clip_value, clip_norm
    params = np.zeros(X.shape[1] + 1, dtype=X.dtype)
    grad_mean = np.full(X.shape[1] + 1, np.nan)
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        epoch_loss, n_steps = kernel(X, y, weights, order, params, grad_mean=grad_mean, **opt.bind(params), loss=loss,
                                     batch_size=batch_size, alpha=alpha, decoupled=opt.decouples_weight_decay,
                                     fit_intercept=fit_intercept, n_threads=n_threads)
        opt.advance(n_steps)
        results.append((epoch_loss, n_steps, grad_mean.copy()))
    return params, opt, results


def assert_same_epochs(run, run_ref, dtype):
    (params, opt, results), (params_ref, opt_ref, results_ref) = run, run_ref
    rtol, atol = (1e-9, 1e-11) if dtype == np.float64 else (5e-4, 5e-5)
    np.testing.assert_allclose(params, params_ref, rtol=rtol, atol=atol)
    for buffers, buffers_ref in zip(opt.state, opt_ref.state):
        for name in buffers:
            assert (buffers[name] is None) == (buffers_ref[name] is None), name
            if buffers[name] is not None:
                np.testing.assert_allclose(buffers[name], buffers_ref[name], rtol=rtol, atol=atol, err_msg=name)
    assert opt.state_dict()["scalars"] == opt_ref.state_dict()["scalars"]
    assert opt.step_count == opt_ref.step_count
    for (epoch_loss, n_steps, grad), (epoch_loss_ref, n_steps_ref, grad_ref) in zip(results, results_ref):
        assert n_steps == n_steps_ref
        assert epoch_loss == pytest.approx(epoch_loss_ref, rel=rtol, abs=atol)
        np.testing.assert_allclose(grad, grad_ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("optimizer", list(EPOCH_OPTIMIZERS))
@pytest.mark.parametrize("loss", [0, 1], ids=["log_loss", "squared_error"])
@pytest.mark.parametrize("batch_size", [1, 7, 64, 5000])
def test_compiled_epoch_matches_numpy_loop(compiled_backend, optimizer, loss, batch_size, dtype, n_threads):
    X, y, weights = epoch_problem(301 if batch_size < 64 else 1003, 9, dtype, loss, weighted=batch_size == 7)
    options = dict(loss=loss, optimizer=EPOCH_OPTIMIZERS[optimizer], batch_size=batch_size, n_threads=n_threads)
    assert_same_epochs(run_epochs(compiled_backend.minibatch_epoch, X, y, weights, **options),
                       run_epochs(reference.minibatch_epoch, X, y, weights, **options), dtype)


@pytest.mark.parametrize("loss", [0, 1], ids=["log_loss", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_epoch_in_chunks_of_rows_matches_the_numpy_loop(compiled_backend, loss, weighted, dtype, n_threads):
    """Batches of 1024 rows x 67 features are gathered and summed by chunks of rows on threads (n_threads 2);
    the last batch (of 3001 - 2 x 1024 = 953 rows) splits unevenly."""
    X, y, weights = epoch_problem(3001, 67, dtype, loss, weighted=weighted, seed=2)
    options = dict(loss=loss, optimizer=EPOCH_OPTIMIZERS["adam"], batch_size=1024, n_threads=n_threads)
    assert_same_epochs(run_epochs(compiled_backend.minibatch_epoch, X, y, weights, **options),
                       run_epochs(reference.minibatch_epoch, X, y, weights, **options), dtype)


@pytest.mark.parametrize("clipping", [dict(clip_value=0.05), dict(clip_norm=0.1), dict(clip_value=0.05, clip_norm=0.1)], ids=str)
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_compiled_epoch_clipping_and_no_intercept(compiled_backend, clipping, optimizer, dtype):
    X, y, weights = epoch_problem(500, 6, dtype, 1, weighted=True, seed=4)
    options = dict(loss=1, optimizer=EPOCH_OPTIMIZERS[optimizer], batch_size=32, fit_intercept=False, **clipping)
    run = run_epochs(compiled_backend.minibatch_epoch, X, y, weights, **options)
    run_ref = run_epochs(reference.minibatch_epoch, X, y, weights, **options)
    assert run[0][-1] == 0.0 and run_ref[0][-1] == 0.0
    assert_same_epochs(run, run_ref, dtype)


def test_reference_epoch_is_a_sequence_of_optimizer_steps():
    """The reference epoch against Optimizer.step on the same batches, by hand: the
    recorded gradient carries the penalty, the intercept takes no decoupled decay."""
    X, y, _ = epoch_problem(60, 4, np.float64, 1, weighted=False, seed=2)
    alpha, batch = 0.1, 20
    for name in ("sgd-nesterov", "adamw", "nadam-decoupled"):
        epoch_opt, step_opt = copy.deepcopy(EPOCH_OPTIMIZERS[name]), copy.deepcopy(EPOCH_OPTIMIZERS[name])
        step_opt.backend = "numpy"
        if epoch_opt.decouples_weight_decay:  # alpha is the decoupled decay, as in the estimators
            epoch_opt.weight_decay = step_opt.weight_decay = alpha
        params, expected = np.zeros(5), np.zeros(5)
        order = np.arange(60)[::-1].copy()
        grad_mean = np.empty(5)
        reference.minibatch_epoch(X, y, None, order, params, grad_mean=grad_mean, **epoch_opt.bind(params), loss=1,
                                  batch_size=batch, alpha=alpha, decoupled=epoch_opt.decouples_weight_decay,
                                  fit_intercept=True, n_threads=1)
        recorded = []
        for start in range(0, 60, batch):
            rows = order[start:start + batch]
            g = np.empty(5)
            _, g[4] = reference.squared_loss_grad(X[rows], y[rows], expected[:4], expected[4], None, g[:4], n_threads=1)
            recorded.append(g + np.r_[alpha * expected[:4], 0.0])
            stepped = g if step_opt.decouples_weight_decay else recorded[-1]
            step_opt.step([expected[:4], expected[4:]], [stepped[:4].copy(), stepped[4:].copy()], no_weight_decay=(1,))
        np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grad_mean, np.mean(recorded, axis=0), rtol=1e-12, atol=1e-15)


def test_epoch_skips_batches_of_zero_weight(backend):
    X, y, _ = epoch_problem(40, 3, np.float64, 0, weighted=False)
    weights = np.zeros(40)
    weights[::2] = 1.0
    order = np.arange(40)
    order = np.concatenate([order[1::2], order[::2]])  # the first 20 rows all weigh 0
    params, grad = np.zeros(4), np.empty(4)
    opt = optim.SGD(lr=0.05)
    _, n_steps = backend.minibatch_epoch(X, y, weights, order, params, grad_mean=grad, **opt.bind(params), loss=0,
                                         batch_size=10, alpha=0.0, decoupled=False, fit_intercept=True, n_threads=1)
    assert n_steps == 2


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
    model = fastgd.LogisticRegression(optimizer="sgd", lr=1e-7, tol=1e-4, max_iter=200, backend=backend.name)
    with pytest.warns(fastgd.ConvergenceWarning, match="far above tol"):
        model.fit(X, y)
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
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # the decayed rate stalls it, as it should
        model.fit(X, y)
    assert model.stop_reason_ in ("stalled", "converged")
    assert model.history_["loss"][-1] < model.history_["loss"][0] / 100


def test_reduce_on_plateau_stalls_only_at_its_floor(backend):
    X, y = standardized_classification()
    rule = sch.ReduceLROnPlateau(1e-5, factor=0.5, patience=0, min_lr=1e-7, eps=0.0)
    model = fastgd.LogisticRegression(optimizer="sgd", schedule=rule, max_iter=200, backend=backend.name)
    with pytest.warns(fastgd.ConvergenceWarning, match="far above tol"):
        model.fit(X, y)
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


def test_bind_hands_the_optimizers_own_state_to_a_compiled_loop():
    theta = np.zeros(4)
    opt = optim.RMSprop(momentum=0.5, centered=True, backend="numpy")
    bound = opt.bind(theta)
    opt.step([theta], [np.ones(4)])
    np.testing.assert_array_equal(bound["state"][0], opt.state[0]["square_avg"])
    assert np.shares_memory(bound["state"], opt.state[0]["grad_avg"])
    assert bound["optimizer"] == optim.RMSprop.code and bound["step"] == 0


def test_verbose_prints_a_line_per_epoch(capsys):
    X, y = standardized_classification(500, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fastgd.LogisticRegression(optimizer="adam", lr=0.05, max_iter=3, tol=0.0, verbose=2, backend="numpy").fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3 and "loss" in lines[0] and "grad_norm" in lines[0]


# ---- one loop, the same messages for every strategy -------------------------------------------


def test_lbfgs_stops_at_the_working_precision_and_says_so():
    """tol=0 cannot be met: L-BFGS ends when the objective no longer decreases in floating
    point -- 'precision', not a plateau, and no warning."""
    X, y = standardized_classification()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastgd.LogisticRegression(tol=0.0, backend="numpy").fit(X, y)
    assert model.stop_reason_ == "precision" and model.stop_reason_ in training.STOP_REASONS
    assert model.history_["grad_norm"][-1] < 1e-6
    assert "lr" not in model.history_


def test_lbfgs_max_iter_speaks_of_iterations_not_learning_rates():
    X, y = standardized_classification()
    with pytest.warns(fastgd.ConvergenceWarning) as caught:
        model = fastgd.LogisticRegression(max_iter=2, tol=1e-12, backend="numpy").fit(X, y)
    message = str(caught[0].message)
    assert "max_iter=2 iterations" in message and "learning rate" not in message
    assert model.stop_reason_ == "max_iter" and model.n_iter_ == 2 and len(model.history_["loss"]) == 2


def test_lbfgs_overflow_at_a_trial_point_stops_as_diverged_with_finite_parameters():
    X, y = standardized_classification()
    X = X.copy()
    X[:, 1] *= 1e160
    with pytest.warns(RuntimeWarning, match="diverged .* standardize the features"):
        model = fastgd.LogisticRegression(backend="numpy").fit(X, y)
    assert model.stop_reason_ == "diverged"
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()


def test_armijo_keeps_the_validation_set():
    X, y = standardized_classification()
    model = fastgd.LogisticRegression(optimizer="sgd", schedule=sch.ArmijoLineSearch(lr=4.0), early_stopping=True,
                                      max_iter=30, tol=1e-6, backend="numpy", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
    assert model.history_["validation_loss"].shape == model.history_["loss"].shape
    assert model.history_["lr"].shape == model.history_["loss"].shape


def test_verbose_lines_in_a_pipe_end_with_a_summary(capsys):
    X, y = standardized_classification(500, 3)
    fastgd.LogisticRegression(verbose=2, backend="numpy").fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("iteration 1: loss") and "lr" not in lines[0]
    assert lines[-1].startswith("stopped after") and "converged" in lines[-1]
