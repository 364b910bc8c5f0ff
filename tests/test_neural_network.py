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


def epoch_data(sizes, output, n, weighted, dtype):
    rng = np.random.default_rng(0)
    k = sizes[-1]
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = {"logistic": rng.integers(0, 2, (n, 1)), "softmax": rng.integers(0, k, (n, 1))}.get(output)
    y = (rng.standard_normal((n, k)) if y is None else y).astype(dtype)
    return X, y, (rng.random(n).astype(dtype) if weighted else None)


def assert_epochs_match(compiled_backend, sizes, activation, output, n, batch_size, weighted, dtype, n_threads):
    """Same seed, same batches: the same parameters, optimizer state, gradient and dead-unit record after
    ``n / batch_size`` batches of the compiled epoch and of the NumPy reference."""
    from fastgd import optim
    from fastgd.backends import _spec, reference

    X, y, weights = epoch_data(sizes, output, n, weighted, dtype)
    net = network.Network(tuple(sizes), activation, output)
    theta = net.initial(np.random.RandomState(0), dtype)
    opt = optim.Adam(lr=0.01, clip_norm=5.0)
    runs = []
    for kernel in (reference.network_epoch, compiled_backend.network_epoch):
        params, state, grad_mean = theta.copy(), np.zeros((3, theta.size), dtype), np.empty(theta.size)
        active = np.zeros(sum(sizes[1:-1]), np.uint8)
        result = kernel(X, y, weights, np.random.default_rng(1).permutation(n), params, state, np.zeros(0), grad_mean,
                        active, sizes=np.array(sizes), activation=_spec.ACTIVATION_CODES[activation],
                        output=_spec.OUTPUT_CODES[output], optimizer=opt.code, hyper=opt._kernel_hyper(),
                        intercept_hyper=opt._hyper_without_weight_decay(), step=0, batch_size=batch_size, alpha=0.01,
                        decoupled=False, clip_value=np.inf, clip_norm=5.0, n_threads=n_threads)
        runs.append((result, params, state, grad_mean, active))
    (expected, *expected_arrays), (result, *arrays) = runs
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert result[1] == expected[1] == -(-n // batch_size) and result[0] == pytest.approx(expected[0], rel=rtol)
    for got, want in zip(arrays, expected_arrays):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("activation", list(network.ACTIVATIONS))
@pytest.mark.parametrize("output, k", [("logistic", 1), ("softmax", 3), ("identity", 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_epoch_matches_the_numpy_loop(compiled_backend, activation, output, k, weighted, dtype):
    """20 batches of 7 rows (the last one short) through a (4, 5, 3, k) network."""
    assert_epochs_match(compiled_backend, (4, 5, 3, k), activation, output, 137, 7, weighted, dtype, n_threads=1)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_compiled_epoch_in_chunks_of_rows_matches_the_numpy_loop(compiled_backend, activation, weighted, dtype,
                                                                  n_threads):
    """A network large enough that each batch's rows are split between threads (batches of 64 rows through
    2,060 weights), 20 batches, the last one short."""
    assert_epochs_match(compiled_backend, (30, 40, 20, 3), activation, "softmax", 1250, 64, weighted, dtype,
                        n_threads)


def test_mini_batch_fits_take_the_same_steps_on_every_backend():
    X, y = moons(300)
    options = dict(hidden_layer_sizes=(8, 4), lr=0.01, batch_size=32, max_iter=4, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fits = [fastgd.MLPClassifier(**options, backend=name).fit(X, y) for name in fastgd.available_backends()]
    for model in fits[1:]:
        np.testing.assert_allclose(model.loss_curve_, fits[0].loss_curve_, rtol=1e-10)
        np.testing.assert_allclose(model.history_["dead_fraction_layer2"], fits[0].history_["dead_fraction_layer2"])


# ---- against the peers, and memory ----------------------------------------------------------------


def softmax_data(n, d, k=10, seed=0, dtype=np.float32):
    """X standard normal, labels ``argmax(X W0 + Gumbel noise)`` with ``W0`` of scale 0.3 (the benchmark's problem)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = np.argmax(X @ (0.3 * rng.standard_normal((d, k))) + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def cross_entropy(proba, y):
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-300, None))))


def torch_mlp_loss_after(X, y, hidden, epochs, seed, torch):
    """An ``nn.Sequential`` ReLU network from fastgd's (scikit-learn's) initialization for ``seed``, trained by
    PyTorch's Adam (lr 1e-3) and ``cross_entropy`` on shuffled batches of 256; its training loss after ``epochs``."""
    k = int(y.max()) + 1
    net = network.Network((X.shape[1], *hidden, k), "relu", "softmax")
    weights, biases = net.unpack(net.initial(np.random.RandomState(seed), X.dtype))
    layers = []
    for W, b in zip(weights, biases):
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    shuffle = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=shuffle)
        for start in range(0, len(y), 256):
            rows = order[start:start + 256]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
            opt.step()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(Xt), yt))


def test_five_epochs_reach_the_loss_of_scikit_learn_and_pytorch():
    """Adam, batch 256, alpha 0, 5 epochs: the mean training loss over 5 seeds of fastgd lies within the spread
    of 5 seeds of scikit-learn's MLPClassifier and of a PyTorch loop (same initialization, its own shuffles)."""
    from conftest import import_torch
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    torch = import_torch()
    X, y = softmax_data(10_000, 20)
    seeds = range(5)
    options = dict(hidden_layer_sizes=(64,), alpha=0.0, batch_size=256, max_iter=5, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [cross_entropy(fastgd.MLPClassifier(**options, random_state=s).fit(X, y).predict_proba(X), y)
                for s in seeds]
        sklearn = [cross_entropy(SklearnMLP(**options, n_iter_no_change=99, random_state=s).fit(X, y).predict_proba(X), y)
                   for s in seeds]
    pytorch = [torch_mlp_loss_after(X, y, (64,), 5, s, torch) for s in seeds]
    assert max(ours) < 0.95 * cross_entropy(np.full((len(y), 10), 0.1), y)  # it learned something
    for peer in (sklearn, pytorch):
        spread = max(np.ptp(ours), np.ptp(peer))
        assert abs(np.mean(ours) - np.mean(peer)) <= spread, (ours, peer)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_fit_allocates_little_beyond_x(backend, early_stopping):
    """Beyond the parameters and one batch's activations, a fit allocates at most 10% of X's size: no one-hot copy
    of y, no copy of X for early stopping (the held-out loss gathers a block of rows at a time).  Measured after a
    warm-up fit, in a new process."""
    from fastgd.benchmark.measure import peak_allocation_in_new_process

    n, d, k, hidden, batch = 100_000, 100, 10, (64,), 256
    setup = f"""
import warnings, numpy as np, fastgd
rng = np.random.default_rng(0)
X = rng.standard_normal(({n}, {d})).astype(np.float32)
y = rng.integers(0, {k}, {n})
model = fastgd.MLPClassifier({hidden}, batch_size={batch}, max_iter=2, tol=0.0, early_stopping={early_stopping},
                             random_state=0, backend={backend.name!r})
warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
"""
    peak, method, numpy_peak = peak_allocation_in_new_process(setup, "model.fit(X, y)")
    widths = (d, *hidden, k)
    n_parameters = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    batch_activations = 2 * batch * sum(widths[1:])  # the activations and their deltas
    budget = 0.10 * n * d * 4 + 4 * (4 * n_parameters + batch_activations)  # params, grad, Adam's 2 moments
    assert peak <= budget, f"{peak / 1e6:.1f} MB ({method}; NumPy's part {numpy_peak / 1e6:.1f} MB) > {budget / 1e6:.1f} MB"
