"""Loss kernels: every compiled backend against the reference, and the public API's checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fastgd import losses
from fastgd.backends import reference

LOSS_KERNELS = ["logistic_loss_grad", "squared_loss_grad"]
EXTREME_LOGITS = np.array([-1e4, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e4])


def make_problem(n, d, dtype, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    w = (rng.standard_normal(d) / np.sqrt(max(d, 1))).astype(dtype)
    sample_weight = (rng.random(n) * 2).astype(dtype) if weighted else None
    return X, y, w, sample_weight


def run_kernel(kernel, X, y, w, b, sample_weight, n_threads=1):
    grad_w = np.full(X.shape[1], np.nan, dtype=X.dtype)
    loss, grad_b = kernel(X, y, w, b, sample_weight, grad_w, n_threads=n_threads)
    assert isinstance(loss, float) and isinstance(grad_b, float)
    assert grad_w.dtype == X.dtype
    return loss, grad_w, grad_b


def float64_reference(kernel_name, X, y, w, b, sample_weight):
    """The reference on float64 copies: the oracle for both dtypes."""
    as64 = [None if a is None else a.astype(np.float64) for a in (X, y, w, sample_weight)]
    return run_kernel(getattr(reference, kernel_name), as64[0], as64[1], as64[2], b, as64[3])


def assert_close(result, expected, tol, scale=1.0):
    """Mixed absolute/relative comparison of ``(loss, grad_w, grad_b)``."""
    atol = tol["atol"] * scale
    assert result[0] == pytest.approx(expected[0], rel=tol["rtol"], abs=atol)
    np.testing.assert_allclose(result[1], expected[1], rtol=tol["rtol"], atol=atol)
    assert result[2] == pytest.approx(expected[2], rel=tol["rtol"], abs=atol)


@pytest.mark.parametrize("kernel_name", LOSS_KERNELS)
@pytest.mark.parametrize("n", [1, 7, 1000, 100_003])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss_grad_matches_reference(compiled_backend, kernel_name, n, weighted, dtype, tol, n_threads):
    X, y, w, sample_weight = make_problem(n, 13, dtype, seed=n, weighted=weighted)
    kernel = getattr(compiled_backend, kernel_name)
    result = run_kernel(kernel, X, y, w, 0.25, sample_weight, n_threads)
    assert_close(result, float64_reference(kernel_name, X, y, w, 0.25, sample_weight), tol)


@pytest.mark.parametrize("kernel_name", LOSS_KERNELS)
def test_loss_grad_is_deterministic_for_a_thread_count(compiled_backend, kernel_name, n_threads):
    X, y, w, _ = make_problem(50_001, 9, np.float64, seed=3)
    kernel = getattr(compiled_backend, kernel_name)
    first = run_kernel(kernel, X, y, w, 0.1, None, n_threads)
    second = run_kernel(kernel, X, y, w, 0.1, None, n_threads)
    assert first[0] == second[0] and first[2] == second[2]
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_logistic_extreme_logits(compiled_backend, label, dtype, tol, n_threads):
    """z = +-40, +-800, +-1e4 give the reference's finite values (scikit-learn issue 28046)."""
    X = np.repeat(EXTREME_LOGITS, 7)[:, None].astype(dtype)
    y = np.full(X.shape[0], label, dtype=dtype)
    w = np.ones(1, dtype=dtype)
    result = run_kernel(compiled_backend.logistic_loss_grad, X, y, w, 0.0, None, n_threads)
    assert np.isfinite(result[0]) and np.isfinite(result[2]) and np.isfinite(result[1]).all()
    assert_close(result, float64_reference("logistic_loss_grad", X, y, w, 0.0, None), tol, scale=1e4)


@pytest.mark.parametrize("kernel_name", ["sigmoid", "log1pexp"])
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 100_003])
def test_elementwise_matches_reference(compiled_backend, kernel_name, n, dtype, n_threads):
    rng = np.random.default_rng(n)
    z = np.concatenate([EXTREME_LOGITS, rng.standard_normal(n) * 20, [np.inf, -np.inf]])[:n].astype(dtype)
    out, expected = np.full_like(z, np.nan), np.empty_like(z)
    getattr(compiled_backend, kernel_name)(z, out, n_threads=n_threads)
    getattr(reference, kernel_name)(z, expected, n_threads=1)
    rtol = 1e-14 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("kernel_name", ["sigmoid", "log1pexp"])
def test_elementwise_infinities(compiled_backend, kernel_name, dtype):
    z = np.array([-np.inf, np.inf], dtype=dtype)
    out = np.empty_like(z)
    getattr(compiled_backend, kernel_name)(z, out, n_threads=1)
    expected = [0.0, 1.0] if kernel_name == "sigmoid" else [0.0, np.inf]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("n", [1, 7, 100_003])
def test_linear_predict_matches_reference(compiled_backend, n, dtype, tol, n_threads):
    X, _, w, _ = make_problem(n, 11, dtype, seed=n)
    out, expected = np.empty(n, dtype=dtype), np.empty(n)
    compiled_backend.linear_predict(X, w, -0.5, out, n_threads=n_threads)
    reference.linear_predict(X.astype(np.float64), w.astype(np.float64), -0.5, expected, n_threads=1)
    np.testing.assert_allclose(out, expected, **tol)


def test_zero_features(compiled_backend, dtype):
    """d = 0 is a defined problem: the model is the intercept alone."""
    X = np.empty((5, 0), dtype=dtype)
    y = np.array([0, 1, 1, 0, 1], dtype=dtype)
    w = np.empty(0, dtype=dtype)
    for kernel_name in LOSS_KERNELS:
        result = run_kernel(getattr(compiled_backend, kernel_name), X, y, w, 0.3, None)
        expected = run_kernel(getattr(reference, kernel_name), X, y, w, 0.3, None)
        assert result[0] == pytest.approx(expected[0], rel=1e-6)
        assert result[2] == pytest.approx(expected[2], rel=1e-6)


def test_read_only_memmap_inputs(backend, tmp_path, dtype, tol):
    X, y, w, sample_weight = make_problem(1001, 7, dtype, weighted=True)
    path = tmp_path / "X.bin"
    X.tofile(path)
    X_map = np.memmap(path, dtype=dtype, mode="r", shape=X.shape)
    arrays_ro = []
    for array in (y, w, sample_weight):
        array = array.copy()
        array.flags.writeable = False
        arrays_ro.append(array)
    result = losses.logistic_loss_grad(X_map, arrays_ro[0], arrays_ro[1], 0.1, arrays_ro[2], backend=backend.name)
    assert_close(result, float64_reference("logistic_loss_grad", X, y, w, 0.1, sample_weight), tol)


# ---- the public API ---------------------------------------------------------------------


def test_public_loss_keeps_float32(backend):
    X, y, w, _ = make_problem(20, 3, np.float32)
    loss, grad_w, grad_b = losses.logistic_loss_grad(X, y, w, backend=backend.name)
    assert grad_w.dtype == np.float32 and isinstance(loss, float) and isinstance(grad_b, float)


def test_public_loss_converts_integers_and_non_contiguous(backend):
    X, y, w, _ = make_problem(30, 4, np.float64)
    X_int = np.rint(X * 3).astype(np.int64)
    strided = np.asfortranarray(X_int.astype(np.float64))
    expected = losses.squared_loss_grad(X_int.astype(np.float64), y, w, backend="numpy")
    for X_in in (X_int, strided, X_int.astype(np.float64)[:, ::1]):
        loss, grad_w, grad_b = losses.squared_loss_grad(X_in, y.astype(bool), w, backend=backend.name)
        assert grad_w.dtype == np.float64
        assert_close((loss, grad_w, grad_b), expected, {"rtol": 1e-10, "atol": 1e-12})


def test_public_elementwise_shapes_and_dtypes(backend):
    z = np.linspace(-5, 5, 12, dtype=np.float32).reshape(3, 4)
    s = losses.sigmoid(z, backend=backend.name)
    assert s.shape == (3, 4) and s.dtype == np.float32
    assert losses.log1pexp(np.arange(3), backend=backend.name).dtype == np.float64
    assert losses.sigmoid(np.empty(0), backend=backend.name).shape == (0,)
    out = np.empty((3, 4), dtype=np.float32)
    assert losses.sigmoid(z, out=out, backend=backend.name) is out
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-z.astype(np.float64))), rtol=1e-6)


def test_public_linear_predict(backend):
    X, _, w, _ = make_problem(9, 4, np.float64)
    np.testing.assert_allclose(losses.linear_predict(X, w, 2.0, backend=backend.name), X @ w + 2.0)


BAD_INPUTS = [
    (dict(X=np.ones(3)), ValueError, "X must be 2-dimensional"),
    (dict(X=np.ones((0, 2)), y=np.ones(0)), ValueError, "X has 0 samples"),
    (dict(y=np.ones(4)), ValueError, "y has 4 entries, expected 5"),
    (dict(w=np.ones(3)), ValueError, "w has 3 entries, expected 2"),
    (dict(w=np.ones((2, 1))), ValueError, "w must be 1-dimensional"),
    (dict(y=np.array([0, 1, 2, 0, 1.0])), ValueError, "labels 0 and 1"),
    (dict(y=np.array([0, 1, np.nan, 0, 1])), ValueError, "y contains NaN"),
    (dict(w=np.array([np.inf, 0])), ValueError, "w contains NaN or infinity"),
    (dict(b=np.nan), ValueError, "b must be finite"),
    (dict(b="1"), TypeError, "b must be a real number"),
    (dict(sample_weight=-np.ones(5)), ValueError, "non-negative"),
    (dict(sample_weight=np.zeros(5)), ValueError, "sums to zero"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight has 3 entries"),
    (dict(sample_weight=np.array([1, 1, np.nan, 1, 1])), ValueError, "sample_weight contains NaN"),
    (dict(X=np.ones((5, 2), dtype=np.complex128)), TypeError, "unsupported dtype complex128"),
    (dict(X=np.ones((5, 2), dtype=np.float16)), TypeError, "unsupported dtype float16"),
    (dict(X=np.array([["a", "b"]] * 5)), TypeError, "unsupported dtype"),
    (dict(n_threads=0), ValueError, "n_threads must be between 1 and"),
    (dict(n_threads=1.5), TypeError, "n_threads must be a positive int"),
    (dict(backend="fortran"), ValueError, "unknown backend 'fortran'"),
]


@pytest.mark.parametrize("changes, error, message", BAD_INPUTS, ids=[m for _, _, m in BAD_INPUTS])
def test_bad_input_is_named(changes, error, message):
    arguments = dict(X=np.ones((5, 2)), y=np.array([0, 1, 1, 0, 1.0]), w=np.zeros(2), b=0.0, sample_weight=None)
    arguments.update(changes)
    with pytest.raises(error, match=message):
        losses.logistic_loss_grad(**arguments)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_is_named_lazily(backend, bad):
    X, y, w, _ = make_problem(50, 3, np.float64)
    X[17, 2] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index \(17, 2\)\)"):
        losses.logistic_loss_grad(X, y, w, backend=backend.name)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        losses.linear_predict(X, w, backend=backend.name)


def test_overflow_with_finite_inputs_is_reported(backend):
    X = np.full((4, 2), 1e200)
    with pytest.raises(ValueError, match="overflowed"):
        losses.squared_loss_grad(X, np.zeros(4), np.full(2, 1e200), backend=backend.name)


def test_loss_registry():
    assert losses.get_loss("log_loss") is losses.logistic_loss_grad
    assert losses.get_loss("squared_error") is losses.squared_loss_grad
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        losses.get_loss("hinge")


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=st.floats(-30, 30)),
    st.floats(-5, 5),
    st.integers(0, 2**32 - 1),
)
def test_compiled_backends_match_reference_on_random_problems(X, b, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(X.shape[0]) < 0.5).astype(np.float64)
    w = rng.standard_normal(X.shape[1])
    expected = losses.logistic_loss_grad(X, y, w, b, backend="numpy")
    for name in ("cython", "numba"):
        try:
            result = losses.logistic_loss_grad(X, y, w, b, backend=name, n_threads=1)
        except ImportError:
            continue  # reported by the fixtures' skips
        scale = 1 + np.abs(X).max()
        assert_close(result, expected, {"rtol": 1e-10, "atol": 1e-12}, scale=scale)
