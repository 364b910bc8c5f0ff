"""Regression tests for the defects a bad-input campaign found: one test per root cause.

Crash-prone cases (a kernel that could write out of bounds or abort the
process) run in a child process, so that a segfault fails the test instead of
the run.
"""

import threading
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import losses, optim, training
from fastgd.backends import reference

# ---- 1. thread counts: chunks follow n_threads (capped), OS threads the cores -------------------

HUGE_THREADS = """
import numpy as np, fastgd
from fastgd import losses
X = np.ones((200_000, 1)); y = (np.arange(200_000) % 2).astype(float); w = np.zeros(1)
for backend in fastgd.available_backends():
    capped = losses.logistic_loss_grad(X, y, w, backend=backend, n_threads=64)
    for n_threads in (40_000, 100_000, 2**31 - 1):
        result = losses.logistic_loss_grad(X, y, w, backend=backend, n_threads=n_threads)
        assert result[0] == capped[0] and np.array_equal(result[1], capped[1]), (backend, n_threads)
        z = losses.linear_predict(X, w, backend=backend, n_threads=n_threads)
        assert np.array_equal(losses.sigmoid(z, backend=backend, n_threads=n_threads), np.full(200_000, 0.5))
    model = fastgd.LogisticRegression(backend=backend, n_threads=100_000).fit(X[:2000], y[:2000])
    assert model.predict(X[:10]).shape == (10,)
print("ok")
"""


def test_a_huge_thread_count_is_capped_not_a_crash(run_python):
    done = run_python("-c", HUGE_THREADS)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("call", [
    lambda: losses.sigmoid(np.zeros(3), n_threads=2**31),
    lambda: optim.Adam(n_threads=2**40),
    lambda: fastgd.LogisticRegression(n_threads=2**31).fit(np.eye(2), [0, 1]),
], ids=["losses", "optimizer", "estimator"])
def test_a_thread_count_beyond_a_c_int_is_a_value_error(call):
    with pytest.raises(ValueError, match="n_threads"):
        call()


# ---- 2. uniformly scaled sample weights change nothing ---------------------------------------


@pytest.mark.parametrize("scale", [1e306, 1e-300, 5e-324])
def test_scaled_sample_weights_give_the_unit_weight_answer(backend, dtype, scale):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2)).astype(dtype)
    y = (rng.random(200) < 0.5).astype(dtype)
    w = np.array([0.5, -0.25], dtype=dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for loss_grad in (losses.logistic_loss_grad, losses.squared_loss_grad):
        expected = loss_grad(X, y, w, 0.1, backend=backend.name)
        result = loss_grad(X, y, w, 0.1, np.full(200, scale), backend=backend.name)
        np.testing.assert_allclose(result[0], expected[0], rtol=rtol)
        np.testing.assert_allclose(result[1], expected[1], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(result[2], expected[2], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("scale", [1e306, 5e-324])
def test_estimators_ignore_a_uniform_scale_of_the_weights(scale):
    X, y, _ = fastgd.datasets.make_classification(200, 3, random_state=0)
    expected = fastgd.LogisticRegression().fit(X, y)
    model = fastgd.LogisticRegression().fit(X, y, sample_weight=np.full(200, scale))
    assert model.stop_reason_ == expected.stop_reason_
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-6)


# ---- 3. overlapping fits and the process-wide BLAS limit ---------------------------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_overlapping_fits_restore_the_blas_limit_when_the_last_ends(compiled_backend):
    """The first fit leaves while the second runs: the limit stays in force until the second
    leaves, then the count found before either is back."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        original = _blas_threads()
        if not original:
            pytest.skip("no BLAS thread pool seen by threadpoolctl")
        first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def first():
            with training.blas_held_to_one_thread(compiled_backend.name):
                first_in.set()
                second_in.wait(10)
            first_out.set()

        def second():
            first_in.wait(10)
            with training.blas_held_to_one_thread(compiled_backend.name):
                second_in.set()
                first_out.wait(10)
                seen["limit held"] = training._BLAS_LIMIT._limiter is not None

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert seen["limit held"]
        assert _blas_threads() == original


def test_many_overlapping_fits_leave_the_blas_limit_as_they_found_it(compiled_backend):
    from threadpoolctl import threadpool_limits

    X, y, _ = fastgd.datasets.make_classification(3000, 6, random_state=0)
    with threadpool_limits(limits=2, user_api="blas"):
        original = _blas_threads()
        fit = lambda k: fastgd.LogisticRegression(max_iter=5 + k, backend=compiled_backend.name).fit(X, y)  # noqa: E731
        threads = [threading.Thread(target=fit, args=(k,)) for k in range(6)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert _blas_threads() == original
        assert training._BLAS_LIMIT._holders == 0


# ---- 4.-6. a run that overflows, stalls worse, or diverges keeps finite, best parameters -----------


def test_least_squares_whose_loss_overflows_names_the_overflow():
    X, y, _ = fastgd.datasets.make_regression(100, 3, random_state=0)
    with pytest.raises(ValueError, match="overflow"):
        fastgd.LinearRegression().fit(X, y * 1e155)


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd"])
def test_a_run_that_ends_worse_than_it_started_keeps_the_start_and_warns(backend, optimizer):
    X, y, _ = fastgd.datasets.make_classification(2000, 5, random_state=0)
    model = fastgd.LogisticRegression(optimizer=optimizer, lr=1000.0, backend=backend.name)
    with pytest.warns(Warning, match="worse than it started|diverged"):
        model.fit(X, y)
    assert model.stop_reason_ in ("stalled", "diverged", "max_iter")
    start = losses.logistic_loss_grad(X, y, np.zeros(5))[0]
    reached = losses.logistic_loss_grad(X, y, model.coef_.ravel(), model.intercept_[0])[0]
    assert reached <= start + 1e-12


def test_a_mini_batch_divergence_hands_back_the_initial_parameters(backend):
    X, y, _ = fastgd.datasets.make_classification(2000, 5, random_state=0)
    model = fastgd.LogisticRegression(optimizer="sgd", batch_size=32, lr=1e6, max_iter=20, random_state=0,
                                      backend=backend.name)
    with pytest.warns(RuntimeWarning, match="diverged .* initial parameters are kept"):
        model.fit(X, y)
    assert model.stop_reason_ == "diverged"
    np.testing.assert_array_equal(model.coef_, 0.0)


def test_a_stall_far_from_a_small_gradient_warns():
    X, y, _ = fastgd.datasets.make_classification(500, 4, random_state=0)
    with pytest.warns(fastgd.ConvergenceWarning, match="far above tol"):
        model = fastgd.LogisticRegression(optimizer="sgd", lr=1e-9, tol=1e-6, backend="numpy").fit(X, y)
    assert model.stop_reason_ == "stalled"


def _gap_after(X, y, alpha, max_iter, best):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model = fastgd.LogisticRegression(alpha=alpha, tol=0.0, max_iter=max_iter).fit(X, y)
    w = model.coef_.ravel().astype(np.float64)
    loss = losses.logistic_loss_grad(X.astype(np.float64), y, w, float(model.intercept_[0]))[0] + alpha / 2 * w @ w
    return (loss - best) / best


def test_float32_lbfgs_reaches_a_small_gap_as_fast_as_float64_on_ill_conditioned_data():
    """Redundant features make the problem ill-conditioned; float32 data (kept float32) must reach
    a 1e-6 relative gap in at most two iterations more than float64 takes."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.make_classification(n_samples=20_000, n_features=100, n_informative=50, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = y.astype(np.float64)
    alpha = 1 / (1e6 * len(y))
    tight = fastgd.LogisticRegression(alpha=alpha, tol=0.0, max_iter=500).fit(X, y)
    w = tight.coef_.ravel()
    best = losses.logistic_loss_grad(X, y, w, float(tight.intercept_[0]))[0] + alpha / 2 * w @ w
    needed = next(k for k in range(2, 60) if _gap_after(X, y, alpha, k, best) < 1e-6)
    assert _gap_after(X.astype(np.float32), y, alpha, needed + 2, best) < 1e-6


# ---- 7. an out that overlaps the input in part -------------------------------------------------


@pytest.mark.parametrize("function", [losses.sigmoid, losses.log1pexp])
def test_a_partly_overlapping_out_reads_the_input_first(backend, function):
    a = np.linspace(-5, 5, 11)
    expected = function(a[:10].copy(), backend="numpy")
    function(a[:10], out=a[1:], backend=backend.name)
    np.testing.assert_allclose(a[1:], expected, rtol=1e-15)
    same = np.linspace(-5, 5, 11)
    function(same, out=same, backend=backend.name)  # exact aliasing is in place
    np.testing.assert_allclose(same, function(np.linspace(-5, 5, 11), backend="numpy"), rtol=1e-15)


# ---- 8. a failed step changes nothing ----------------------------------------------------------


@pytest.mark.parametrize("bad", [np.ones(3, dtype=np.int64), np.ones(3, dtype=np.float32), "matrix"])
def test_a_bad_second_parameter_leaves_the_first_untouched(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        bad = np.matrix(np.ones(3)) if isinstance(bad, str) else bad
    first, opt = np.ones(4), optim.Adam(lr=0.1)
    opt.step([first, np.ones(3)], [np.ones(4), np.ones(3)])
    state, kept = opt.state_dict(), first.copy()
    with pytest.raises((TypeError, ValueError)):
        opt.step([first, bad], [np.ones(4), np.ones(3)])
    np.testing.assert_array_equal(first, kept)
    assert opt.state_dict()["step"] == state["step"]
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], state["state"][0]["exp_avg"])


# ---- 9. the public kernels check their arguments -----------------------------------------------

CHECKED_KERNEL_CALLS = """
import sys
import numpy as np, fastgd
kernels = fastgd.get_backend(sys.argv[1])
X, y, w = np.ones((50, 3)), np.zeros(50), np.zeros(3)
adam = dict(code=3, hyper=np.array([1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0.0]), step=1, clip_value=np.inf,
            grad_scale=1.0, n_threads=1)
epoch = dict(loss=0, optimizer=3, hyper=adam["hyper"], intercept_hyper=adam["hyper"], step=0, batch_size=8,
             alpha=0.0, decoupled=False, fit_intercept=True, clip_value=np.inf, clip_norm=np.inf, n_threads=1)
cases = {
    "short grad_w": lambda: kernels.logistic_loss_grad(X, y, w, 0.0, None, np.empty(2), n_threads=1),
    "grad_w of another dtype": lambda: kernels.logistic_loss_grad(X, y, w, 0.0, None, np.empty(3, np.float32), n_threads=1),
    "read-only out": lambda: kernels.sigmoid(np.zeros(3), np.frombuffer(bytes(24)), n_threads=1),
    "short state": lambda: kernels.optimizer_update(np.zeros(10), np.ones(10), np.zeros((3, 4)), np.zeros(0), **adam),
    "too few state rows": lambda: kernels.optimizer_update(np.zeros(10), np.ones(10), np.zeros((1, 10)), np.zeros(0), **adam),
    "an unknown optimizer": lambda: kernels.optimizer_update(np.zeros(10), np.ones(10), np.zeros((3, 10)), np.zeros(0),
                                                            **dict(adam, code=99)),
    "order out of range": lambda: kernels.minibatch_epoch(X, y, None, np.full(50, 10**9), np.zeros(4), np.zeros((3, 4)),
                                                          np.zeros(0), np.zeros(4), **epoch),
    "negative order": lambda: kernels.minibatch_epoch(X, y, None, -np.ones(50, np.int64), np.zeros(4), np.zeros((3, 4)),
                                                      np.zeros(0), np.zeros(4), **epoch),
    "short params": lambda: kernels.minibatch_epoch(X, y, None, np.arange(50), np.zeros(2), np.zeros((3, 2)),
                                                    np.zeros(0), np.zeros(2), **epoch),
    "short out": lambda: kernels.linear_predict(X, w, 0.0, np.empty(10), n_threads=1),
    "zero threads": lambda: kernels.squared_norm(np.ones(3), clip_value=np.inf, n_threads=0),
}
for name, call in cases.items():
    try:
        call()
    except (TypeError, ValueError) as error:
        print(name, "->", type(error).__name__, error)
    else:
        raise SystemExit(f"{name}: accepted")
print("ok")
"""


@pytest.mark.parametrize("name", ["cython", "numba", "numpy"])
def test_public_kernels_refuse_bad_arguments_instead_of_writing_out_of_bounds(run_python, name):
    if name not in fastgd.available_backends():
        pytest.skip(f"backend {name} unavailable")
    done = run_python("-c", CHECKED_KERNEL_CALLS, name)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout[-2000:] + done.stderr[-2000:]


def test_public_kernels_compute_what_the_raw_ones_do(backend):
    X, y, w = np.ones((50, 3)), np.zeros(50), np.full(3, 0.1)
    grad, grad_raw = np.empty(3), np.empty(3)
    result = fastgd.get_backend(backend.name).logistic_loss_grad(X, y, w, 0.5, None, grad, n_threads=1)
    assert result == backend.logistic_loss_grad(X, y, w, 0.5, None, grad_raw, n_threads=1)
    np.testing.assert_array_equal(grad, grad_raw)


# ---- 10. exception types and messages ---------------------------------------------------------


def test_big_endian_input_is_converted():
    X, y, _ = fastgd.datasets.make_classification(100, 3, random_state=0)
    w = np.array([0.1, 0.2, 0.3])
    expected = losses.logistic_loss_grad(X, y, w)
    result = losses.logistic_loss_grad(X.astype(">f8"), y.astype(">f8"), w.astype(">f8"))
    assert result[0] == pytest.approx(expected[0], rel=1e-15)
    np.testing.assert_allclose(fastgd.LogisticRegression().fit(X.astype(">f8"), y).coef_,
                               fastgd.LogisticRegression().fit(X, y).coef_)


def test_a_value_beyond_float32_is_named_as_such():
    X = np.ones((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        losses.logistic_loss_grad(X, np.zeros(4), np.array([1e300, 0.0]))


def test_mixed_label_types_are_refused_clearly():
    with pytest.raises(ValueError, match="mix"):
        fastgd.LogisticRegression().fit(np.eye(4), np.array([1, "a", 1, "a"], dtype=object))


def test_a_state_dict_that_is_not_one_is_a_value_error():
    for bad in (None, {}, {"optimizer": "Adam"}, [1, 2]):
        with pytest.raises(ValueError, match="state_dict"):
            optim.Adam().load_state_dict(bad)


def test_a_batch_size_beyond_any_array_is_a_value_error():
    with pytest.raises(ValueError, match="batch_size"):
        fastgd.LogisticRegression(optimizer="adam", batch_size=2**63).fit(np.eye(2), [0, 1])


def test_reference_is_the_raw_kernel_behind_the_checked_one():
    assert fastgd.backends.raw_kernels("numpy").sigmoid is reference.sigmoid
    assert fastgd.get_backend("numpy").sigmoid is not reference.sigmoid
