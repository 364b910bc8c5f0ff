"""The NumPy reference against mathematics: known values, finite differences, tails."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fastgd.backends import reference

TAIL_LOGITS = np.array([-1e4, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e4])


def _sigmoid(z):
    out = np.empty_like(z)
    reference.sigmoid(z, out, n_threads=1)
    return out


def _log1pexp(z):
    out = np.empty_like(z)
    reference.log1pexp(z, out, n_threads=1)
    return out


def _loss_grad(kernel, X, y, w, b=0.0, sample_weight=None):
    grad_w = np.empty(X.shape[1], dtype=X.dtype)
    loss, grad_b = kernel(X, y, w, b, sample_weight, grad_w, n_threads=1)
    return loss, grad_w, grad_b


def test_sigmoid_known_values():
    z = np.array([0.0, math.log(3.0), -math.log(3.0), 40.0, -40.0, -800.0, 800.0])
    expected = [0.5, 0.75, 0.25, 1.0, math.exp(-40.0) / (1 + math.exp(-40.0)), 0.0, 1.0]
    np.testing.assert_allclose(_sigmoid(z), expected, rtol=1e-15, atol=0)


def test_log1pexp_known_values():
    z = np.array([0.0, 1.0, -1.0, 40.0, -40.0, 800.0, -800.0, 1e4])
    expected = [math.log(2.0), math.log1p(math.e), math.log1p(math.exp(-1.0)), 40.0 + math.exp(-40.0), math.exp(-40.0), 800.0, 0.0, 1e4]
    np.testing.assert_allclose(_log1pexp(z), expected, rtol=1e-15, atol=0)


def test_tails_are_finite_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = _sigmoid(TAIL_LOGITS)
        sp = _log1pexp(TAIL_LOGITS)
        for label in (0.0, 1.0):
            X = TAIL_LOGITS[:, None].copy()
            y = np.full(len(TAIL_LOGITS), label)
            loss_i, dz = reference.logistic_terms(TAIL_LOGITS, y)
            loss, grad_w, grad_b = _loss_grad(reference.logistic_loss_grad, X, y, np.ones(1))
            assert np.isfinite([loss, grad_b]).all() and np.isfinite(grad_w).all()
            assert np.isfinite(loss_i).all() and np.isfinite(dz).all()
    assert np.isfinite(s).all() and np.isfinite(sp).all()


def _exact_sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


@pytest.mark.parametrize("z", TAIL_LOGITS)
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_logistic_terms_in_the_tails(z, y):
    """l = log1pexp(z) - y z and dl/dz = sigmoid(z) - y, without cancellation."""
    loss_i, dz = reference.logistic_terms(np.array([z]), np.array([y]))
    if (z > 0) == (y == 1):  # well classified: l = log1p(exp(-|z|)), tiny
        expected_loss = math.log1p(math.exp(-abs(z)))
    else:  # misclassified: l = |z| + log1p(exp(-|z|))
        expected_loss = abs(z) + math.log1p(math.exp(-abs(z)))
    expected_dz = -_exact_sigmoid(-z) if y == 1 else _exact_sigmoid(z)  # sigmoid(z) - y
    assert loss_i[0] == pytest.approx(expected_loss, rel=1e-14, abs=0)
    assert dz[0] == pytest.approx(expected_dz, rel=1e-14, abs=1e-300)


def _finite_difference_gradient(loss_of, w, b, step=1e-6):
    def central(shift_w, shift_b):
        return (loss_of(w + shift_w, b + shift_b) - loss_of(w - shift_w, b - shift_b)) / (2 * step)

    eye = np.eye(len(w)) * step
    return np.array([central(eye[j], 0.0) for j in range(len(w))]), central(np.zeros_like(w), step)


@pytest.mark.parametrize("kernel", [reference.logistic_loss_grad, reference.squared_loss_grad], ids=["logistic", "squared"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_central_differences(kernel, weighted):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 6))
    y = (rng.random(50) < 0.5).astype(float)
    w = rng.standard_normal(6)
    sample_weight = rng.random(50) * 3 if weighted else None

    def loss_of(w_, b_):
        return _loss_grad(kernel, X, y, w_, b_, sample_weight)[0]

    _, grad_w, grad_b = _loss_grad(kernel, X, y, w, 0.3, sample_weight)
    fd_w, fd_b = _finite_difference_gradient(loss_of, w, 0.3)
    np.testing.assert_allclose(grad_w, fd_w, rtol=1e-7, atol=1e-9)
    assert grad_b == pytest.approx(fd_b, rel=1e-7, abs=1e-9)


def test_squared_loss_hand_computed():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([1.0, 0.0])
    w = np.array([0.5, -0.5])
    # z = [-0.5, 2.0] + 1 = [0.5, 3.0]; r = [-0.5, 3.0]; loss = (0.25 + 9) / 2 / 2
    loss, grad_w, grad_b = _loss_grad(reference.squared_loss_grad, X, y, w, 1.0)
    assert loss == pytest.approx(9.25 / 4)
    np.testing.assert_allclose(grad_w, [(-0.5 * 1 + 3.0 * 3) / 2, (-0.5 * 2 + 3.0 * -1) / 2])
    assert grad_b == pytest.approx(2.5 / 2)


def test_integer_sample_weights_equal_repeated_rows():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((9, 4))
    y = (rng.random(9) < 0.5).astype(float)
    w = rng.standard_normal(4)
    counts = rng.integers(1, 4, size=9)
    weighted = _loss_grad(reference.logistic_loss_grad, X, y, w, 0.2, counts.astype(float))
    repeated = _loss_grad(reference.logistic_loss_grad, np.repeat(X, counts, axis=0), np.repeat(y, counts), w, 0.2)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-12)
    assert weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    assert weighted[2] == pytest.approx(repeated[2], rel=1e-12, abs=1e-15)


finite_logits = arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e5, 1e5, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(finite_logits)
def test_sigmoid_and_softplus_identities(z):
    s, s_neg = _sigmoid(z), _sigmoid(-z)
    assert ((s >= 0) & (s <= 1)).all()
    np.testing.assert_allclose(s + s_neg, 1.0, rtol=0, atol=4.5e-16)
    # softplus(z) - softplus(-z) = z
    np.testing.assert_allclose(_log1pexp(z) - _log1pexp(-z), z, rtol=1e-15, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(finite_logits, st.integers(0, 1))
def test_logistic_derivative_is_sigmoid_minus_label(z, label):
    y = np.full(z.shape, float(label))
    loss_i, dz = reference.logistic_terms(z, y)
    assert (loss_i >= 0).all()
    np.testing.assert_allclose(dz, _sigmoid(z) - y, rtol=1e-14, atol=4.5e-16)
