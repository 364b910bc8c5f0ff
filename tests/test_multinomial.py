"""Multinomial logistic regression: the softmax kernel of every backend against the
reference, the reference against mathematics, and the estimator against scikit-learn."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgd
from fastgd.backends import reference

from conftest import TOLERANCES


def softmax_problem(n, d, k, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * scale).astype(dtype)
    y = rng.integers(0, k, n).astype(dtype)
    W = (rng.standard_normal((d, k)) * 0.5).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    return X, y, W, b


def run(kernel, X, y, W, b, weights, n_threads):
    grad_W, grad_b = np.full(W.shape, np.nan, W.dtype), np.full(b.shape, np.nan, b.dtype)
    loss = kernel(X, y, W, b, weights, grad_W, grad_b, n_threads=n_threads)
    return loss, grad_W, grad_b


@pytest.mark.parametrize("n, d, k", [(1, 1, 2), (7, 3, 3), (1001, 17, 10), (20_011, 100, 4)])
@pytest.mark.parametrize("weighted", [False, True])
def test_backend_matches_reference(compiled_backend, n, d, k, weighted, dtype, n_threads):
    X, y, W, b = softmax_problem(n, d, k, dtype)
    weights = np.random.default_rng(1).random(n).astype(dtype) if weighted else None
    result = run(compiled_backend.softmax_loss_grad, X, y, W, b, weights, n_threads)
    expected = run(reference.softmax_loss_grad, X, y, W, b, weights, 1)
    rtol, atol = TOLERANCES[dtype]
    assert result[0] == pytest.approx(expected[0], rel=rtol)
    np.testing.assert_allclose(result[1], expected[1], rtol=rtol, atol=atol)
    np.testing.assert_allclose(result[2], expected[2], rtol=rtol, atol=atol)
    assert result[1].dtype == dtype and result[2].dtype == dtype


def test_extreme_logits_stay_finite(backend, dtype):
    """Logits of +-1e4 (exp overflows without the max shift): finite loss and gradient."""
    X, y, W, b = softmax_problem(50, 2, 3, dtype, scale=1e4)
    loss, grad_W, grad_b = run(backend.softmax_loss_grad, X, y, W, b, None, 1)
    assert np.isfinite(loss) and np.isfinite(grad_W).all() and np.isfinite(grad_b).all()
    expected = run(reference.softmax_loss_grad, X.astype(np.float64), y.astype(np.float64), W.astype(np.float64),
                   b.astype(np.float64), None, 1)
    assert loss == pytest.approx(expected[0], rel=1e-3 if dtype == np.float32 else 1e-10)


def test_reference_known_values():
    """At W = 0, b = 0 every class has probability 1/k: loss = log k, dl/dz = 1/k - onehot."""
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([0.0, 2.0])
    loss, grad_W, grad_b = run(reference.softmax_loss_grad, X, y, np.zeros((2, 3)), np.zeros(3), None, 1)
    assert loss == pytest.approx(np.log(3))
    dz = np.full((2, 3), 1 / 3) - np.eye(3)[[0, 2]]
    np.testing.assert_allclose(grad_W, X.T @ dz / 2)
    np.testing.assert_allclose(grad_b, dz.mean(axis=0))


def test_reference_gradient_matches_finite_differences():
    X, y, W, b = softmax_problem(40, 3, 4, np.float64, seed=3)
    weights = np.random.default_rng(2).random(40)
    _, grad_W, grad_b = run(reference.softmax_loss_grad, X, y, W, b, weights, 1)
    h = 1e-6

    def loss_at(W, b):
        return reference.softmax_loss_grad(X, y, W, b, weights, np.empty_like(W), np.empty_like(b), n_threads=1)

    for index in np.ndindex(W.shape):
        step = np.zeros_like(W)
        step[index] = h
        assert (loss_at(W + step, b) - loss_at(W - step, b)) / (2 * h) == pytest.approx(grad_W[index], abs=1e-8)
    for c in range(4):
        step = np.zeros(4)
        step[c] = h
        assert (loss_at(W, b + step) - loss_at(W, b - step)) / (2 * h) == pytest.approx(grad_b[c], abs=1e-8)


def iris():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def test_lbfgs_fit_matches_scikit_learn(backend):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = iris()
    alpha = 0.01
    expected = linear_model.LogisticRegression(C=1 / (alpha * len(y)), tol=1e-10, max_iter=10_000).fit(X, y)
    model = fastgd.LogisticRegression(alpha=alpha, tol=1e-10, max_iter=1000, backend=backend.name).fit(X, y)
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    np.testing.assert_allclose(model.coef_, expected.coef_, atol=1e-5)
    np.testing.assert_allclose(model.intercept_, expected.intercept_, atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    assert (model.predict(X) == expected.predict(X)).all()


@pytest.mark.parametrize("batch_size", [None, 16])
def test_first_order_fits_descend_and_agree_across_backends(backend, batch_size):
    X, y = iris()
    options = dict(alpha=0.01, optimizer="adam", lr=0.02, batch_size=batch_size, max_iter=30, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model = fastgd.LogisticRegression(**options, backend=backend.name).fit(X, y)
        expected = fastgd.LogisticRegression(**options, backend="numpy").fit(X, y)
    assert model.history_["loss"][-1] < 0.5 * model.history_["loss"][0]
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-8, atol=1e-10)


def test_labels_of_any_type_class_weight_warm_start_and_partial_fit():
    X, y = iris()
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    model = fastgd.LogisticRegression(class_weight="balanced").fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.predict(X[:1])[0] == "setosa"
    warm = fastgd.LogisticRegression(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        first = warm.fit(X, y).history_["loss"][-1]
        assert warm.fit(X, y).history_["loss"][0] <= first
    partial = fastgd.LogisticRegression(lr=0.05, batch_size=32, random_state=0)
    for _ in range(5):
        partial.partial_fit(X, y, classes=[0, 1, 2])
    assert partial.coef_.shape == (3, 4) and (partial.predict(X) == y).mean() > 0.8


def test_mini_batch_epochs_without_intercepts():
    """Without intercepts the multinomial epochs step batch by batch (the compiled network epoch trains biases)."""
    X, y = iris()
    options = dict(alpha=0.01, optimizer="adam", lr=0.02, batch_size=16, max_iter=20, tol=0.0, random_state=0,
                   fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        fits = [fastgd.LogisticRegression(**options, backend=name).fit(X, y) for name in fastgd.available_backends()]
    for model in fits:
        assert (model.intercept_ == 0).all() and model.history_["loss"][-1] < 0.5 * model.history_["loss"][0]
        np.testing.assert_allclose(model.coef_, fits[0].coef_, rtol=1e-8, atol=1e-10)


LABEL_ARRAYS = st.one_of(
    hnp.arrays(st.sampled_from([np.int8, np.int64, np.uint16, np.uint64]), st.integers(1, 60),
               elements=st.integers(0, 5) | st.integers(0, 100)),
    hnp.arrays(np.int32, st.integers(1, 60), elements=st.integers(-3, 3)),
    hnp.arrays(np.bool_, st.integers(1, 60)),
    hnp.arrays(np.float32, st.integers(1, 60), elements=st.sampled_from([0.0, 1.0, 2.5, -1.0])),
    st.lists(st.sampled_from(["a", "b", "zz"]), min_size=1, max_size=60).map(lambda labels: np.array(labels, object)),
)


@settings(max_examples=200, deadline=None)
@given(y=LABEL_ARRAYS, dtype=st.sampled_from([np.float32, np.float64]))
def test_class_targets_are_the_sorted_labels_and_each_samples_index(y, dtype):
    """The counted path (small non-negative integers, booleans) and the sorted one agree with np.unique, with the
    classes found or given."""
    from fastgd.linear_model import _class_targets

    classes, targets = _class_targets(y, None, dtype)
    expected_classes, expected_index = np.unique(y, return_inverse=True)
    assert classes.dtype == expected_classes.dtype
    np.testing.assert_array_equal(classes, expected_classes)
    assert targets.dtype == dtype
    np.testing.assert_array_equal(targets, expected_index.astype(dtype))
    if y.dtype.kind != "b":  # classes given, with one more label (after the others: the indices stay)
        wider = np.append(expected_classes, "zzz" if y.dtype == object else expected_classes.max() + 1)
        _, targets_given = _class_targets(y, wider.astype(y.dtype), dtype)
        np.testing.assert_array_equal(targets_given, targets)


@pytest.mark.parametrize("y, classes", [(np.array([0, 1, 7]), np.array([0, 1])), (np.array([-1, 1]), np.array([1])),
                                        (np.array(["a", "c"], object), np.array(["a", "b"], object))])
def test_labels_outside_the_given_classes_are_named(y, classes):
    from fastgd.linear_model import _class_targets

    with pytest.raises(ValueError, match="labels not in classes"):
        _class_targets(y, classes, np.float64)
