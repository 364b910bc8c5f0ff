"""MLPClassifier and MLPRegressor: backpropagation against finite differences, learning,
the diagnostics (plateaus, dead ReLU units), bad input and scikit-learn compatibility."""

import warnings

import numpy as np
import pytest

import fastgd
from fastgd import network

pytest.importorskip("sklearn")


@pytest.mark.parametrize("activation", network.ACTIVATIONS)
@pytest.mark.parametrize("output, k", [("logistic", 1), ("softmax", 3), ("identity", 2)])
def test_every_layer_gradient_matches_finite_differences(activation, output, k):
    rng = np.random.default_rng(0)
    net = network.Network((4, 5, 3, k), activation, output)
    theta = net.initial(np.random.RandomState(1), np.float64)
    X = rng.standard_normal((30, 4))
    y = {"logistic": rng.integers(0, 2, 30), "softmax": rng.integers(0, 3, 30)}.get(output)
    y = rng.standard_normal((30, k)) if y is None else y.astype(np.float64)
    weights = rng.random(30)
    grad = np.empty_like(theta)
    net.loss_grad(X, y, weights, theta, grad)
    h = 1e-6
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        numeric = (net.loss_grad(X, y, weights, theta + step, np.empty_like(theta))
                   - net.loss_grad(X, y, weights, theta - step, np.empty_like(theta))) / (2 * h)
        assert numeric == pytest.approx(grad[i], abs=1e-7), i


def moons(n=600, seed=0):
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.make_moons(n, noise=0.15, random_state=seed)


@pytest.mark.parametrize("activation", network.ACTIVATIONS[1:])
def test_classifier_learns_a_nonlinear_boundary(backend, activation):
    X, y = moons()
    model = fastgd.MLPClassifier((16, 16), activation, lr=0.01, max_iter=200, random_state=0, backend=backend.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
    assert model.score(X, y) > (0.85 if activation == "logistic" else 0.95)  # scikit-learn's: 0.887, 0.997, 0.993
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.out_activation_ == "logistic" and [W.shape for W in model.coefs_] == [(2, 16), (16, 16), (16, 1)]
    assert {"grad_norm_layer1", "grad_norm_layer3"} <= set(model.history_)


def test_backends_take_the_same_steps():
    X, y = moons(200)
    options = dict(hidden_layer_sizes=(8,), lr=0.01, max_iter=5, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fits = [fastgd.MLPClassifier(**options, backend=name).fit(X, y) for name in fastgd.available_backends()]
    for model in fits[1:]:
        for W, W_ref in zip(model.coefs_, fits[0].coefs_):
            np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-12)


def test_multiclass_and_labels_of_any_type():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    model = fastgd.MLPClassifier((10,), lr=0.01, max_iter=300, random_state=0).fit(X, names)
    assert model.out_activation_ == "softmax" and model.coefs_[-1].shape == (10, 3)
    assert model.score(X, names) > 0.95 and set(model.predict(X)) <= set(names)


def test_regressor_fits_a_curve_and_several_targets():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (500, 1))
    y = np.column_stack([np.sin(X[:, 0]), np.cos(X[:, 0])])
    model = fastgd.MLPRegressor((32,), "tanh", lr=0.01, max_iter=400, random_state=0).fit(X, y)
    assert model.predict(X).shape == (500, 2) and model.score(X, y) > 0.95
    single = fastgd.MLPRegressor((32,), "tanh", lr=0.01, max_iter=400, random_state=0).fit(X, y[:, 0])
    assert single.predict(X).shape == (500,) and single.score(X, y[:, 0]) > 0.95


def test_lbfgs_full_batch():
    X, y = moons(300)
    model = fastgd.MLPClassifier((8,), "tanh", optimizer="lbfgs", max_iter=300, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.95 and "lr" not in model.history_


def test_a_plateau_stalls_with_a_gradient_that_stopped_changing():
    """Saturated logistic hidden units (weights scaled up 100-fold): their derivative nearly
    vanishes, the output layer settles on what they give, and descent sits on a plateau far from
    a good fit: the loss is flat, the gradient is above tol and has stopped changing -- not
    convergence."""
    X, y = moons(400)
    model = fastgd.MLPClassifier((16,), "logistic", lr=1e-3, max_iter=1, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
    model.coefs_[0] *= 100.0
    model.intercepts_[0] += 100.0
    model.set_params(max_iter=300, tol=1e-6, optimizer="sgd", lr=1e-2, batch_size=None)
    with pytest.warns(fastgd.ConvergenceWarning, match="stopped improving .* far above tol"):
        model.fit(X, y)
    history = model.history_
    assert model.stop_reason_ == "stalled" and history["grad_norm"][-1] > 100 * 1e-6
    assert history["grad_change"][-1] < 0.05
    assert history["loss"][-1] > 0.8  # a healthy fit of these moons reaches about 0.05


def test_dead_relu_units_are_counted_while_the_network_learns():
    X, y = moons(400)
    model = fastgd.MLPClassifier((20,), "relu", lr=0.01, max_iter=1, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
        model.intercepts_[0][:10] = -1e3  # half the units never fire again
        model.set_params(max_iter=60, tol=0.0)
        model.fit(X, y)
    dead = model.history_["dead_fraction_layer1"]
    assert (dead >= 0.5).all() and dead[-1] < 1.0
    assert model.history_["loss"][-1] < model.history_["loss"][0] and model.score(X, y) > 0.85


def test_a_layer_of_dead_units_is_not_convergence():
    X, y = moons(200)
    model = fastgd.MLPClassifier((8,), "relu", max_iter=1, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
    model.intercepts_[0][:] = -1e3
    model.set_params(max_iter=3, tol=0.0)
    with pytest.warns(RuntimeWarning, match="every unit of hidden layer 1 outputs zero"):
        model.fit(X, y)
    assert model.history_["dead_fraction_layer1"][-1] == 1.0


@pytest.mark.parametrize("options, data, message", [
    (dict(hidden_layer_sizes=(0,)), None, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(4, -1)), None, "hidden_layer_sizes"),
    (dict(activation="softplus"), None, "activation"),
    (dict(), "nan", "NaN"),
    (dict(), "multilabel", "multilabel"),
])
def test_bad_input_is_named(options, data, message):
    X, y = moons(50)
    if data == "nan":
        X = X.copy()
        X[3, 1] = np.nan
    if data == "multilabel":
        y = np.column_stack([y, 1 - y])
    with pytest.raises(ValueError, match=message):
        fastgd.MLPClassifier(**options, max_iter=2).fit(X, y)


def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    options = dict(hidden_layer_sizes=(16,), lr=0.01, max_iter=300, random_state=0)  # trains enough for the accuracy checks
    for estimator in (fastgd.MLPClassifier(**options), fastgd.MLPRegressor(**options)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_estimator(estimator)


@pytest.mark.parametrize("activation", list(network.ACTIVATIONS))
@pytest.mark.parametrize("output, k", [("logistic", 1), ("softmax", 3), ("identity", 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_epoch_matches_the_numpy_loop(compiled_backend, activation, output, k, weighted, dtype):
    """Same seed, same batches: the same parameters, gradient and dead-unit record after 20 batches."""
    from fastgd import optim
    from fastgd.backends import _spec, reference

    rng = np.random.default_rng(0)
    n, sizes = 140, np.array([4, 5, 3, k])
    X = rng.standard_normal((n, 4)).astype(dtype)
    y = {"logistic": rng.integers(0, 2, (n, 1)), "softmax": rng.integers(0, 3, (n, 1))}.get(output)
    y = (rng.standard_normal((n, k)) if y is None else y).astype(dtype)
    weights = rng.random(n).astype(dtype) if weighted else None
    net = network.Network(tuple(sizes), activation, output)
    theta = net.initial(np.random.RandomState(0), dtype)
    opt = optim.Adam(lr=0.01, clip_norm=5.0)
    runs = []
    for kernel in (reference.network_epoch, compiled_backend.network_epoch):
        params, state, grad_mean, active = theta.copy(), np.zeros((3, theta.size), dtype), np.empty(theta.size), np.zeros(8, np.uint8)
        result = kernel(X, y, weights, np.random.default_rng(1).permutation(n), params, state, np.zeros(0), grad_mean,
                        active, sizes=sizes, activation=_spec.ACTIVATION_CODES[activation],
                        output=_spec.OUTPUT_CODES[output], optimizer=opt.code, hyper=opt._kernel_hyper(),
                        intercept_hyper=opt._hyper_without_weight_decay(), step=0, batch_size=7, alpha=0.01,
                        decoupled=False, clip_value=np.inf, clip_norm=5.0, n_threads=1)
        runs.append((result, params, state, grad_mean, active))
    (expected, *expected_arrays), (result, *arrays) = runs
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert result[1] == expected[1] == 20 and result[0] == pytest.approx(expected[0], rel=rtol)
    for got, want in zip(arrays, expected_arrays):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_mini_batch_fits_take_the_same_steps_on_every_backend():
    X, y = moons(300)
    options = dict(hidden_layer_sizes=(8, 4), lr=0.01, batch_size=32, max_iter=4, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fits = [fastgd.MLPClassifier(**options, backend=name).fit(X, y) for name in fastgd.available_backends()]
    for model in fits[1:]:
        np.testing.assert_allclose(model.loss_curve_, fits[0].loss_curve_, rtol=1e-10)
        np.testing.assert_allclose(model.history_["dead_fraction_layer2"], fits[0].history_["dead_fraction_layer2"])
