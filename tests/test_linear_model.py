"""The estimators: scikit-learn's API, convergence to known optima, errors, threads, memory."""

import copy
import pickle
import threading
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import optim
from fastgd import schedules as sch
from fastgd._sklearn_compat import NotFittedError
from fastgd.linear_model import EXPECTED_FAILED_CHECKS, OPTIMIZERS, LinearRegression, LogisticRegression

ESTIMATORS = [LinearRegression, LogisticRegression]


def classification(n=600, d=5, seed=0, dtype=np.float64):
    X, y, _ = fastgd.datasets.make_classification(n, d, random_state=seed, dtype=dtype)
    return X, y


def regression(n=600, d=5, seed=0, dtype=np.float64):
    X, y, _ = fastgd.datasets.make_regression(n, d, random_state=seed, dtype=dtype)
    return X, y


def ridge_closed_form(X, y, alpha, sample_weight=None):
    """argmin sum s (x w + b - y)^2 / 2 / sum s + alpha/2 ||w||^2 (intercept free)."""
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    s = s / s.sum()
    x_mean, y_mean = s @ X, s @ y
    Xc, yc = X - x_mean, y - y_mean
    w = np.linalg.solve(Xc.T @ (s[:, None] * Xc) + alpha * np.eye(X.shape[1]), Xc.T @ (s * yc))
    return w, y_mean - x_mean @ w


def relative_gap(loss, best):
    return (loss - best) / abs(best)


# ---- convergence to known optima -------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_matches_the_closed_form(backend, weighted):
    X, y = regression()
    weights = np.random.default_rng(0).random(len(y)) * 2 if weighted else None
    model = LinearRegression(alpha=0.1, tol=1e-8, backend=backend.name).fit(X, y, sample_weight=weights)
    w, b = ridge_closed_form(X, y, 0.1, weights)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-6, atol=1e-7)
    assert model.intercept_ == pytest.approx(b, rel=1e-6, abs=1e-7)
    assert model.stop_reason_ == "converged"


@pytest.mark.parametrize("optimizer, options", [
    ("adam", dict(schedule=sch.CosineDecay(0.05, t_max=1000))),
    ("rmsprop", dict(schedule=sch.CosineDecay(0.01, t_max=1000))),
    ("adagrad", dict(lr=0.5)),
    ("sgd", dict(lr=0.5)),
], ids=["adam", "rmsprop", "adagrad", "sgd"])
def test_first_order_optimizers_reach_the_ridge_optimum(backend, optimizer, options):
    """Full batch; the adaptive methods need a decaying rate to settle (at a constant one they stall)."""
    X, y = regression()
    w, b = ridge_closed_form(X, y, 0.1)
    model = LinearRegression(alpha=0.1, optimizer=optimizer, tol=1e-6, max_iter=1000, n_iter_no_change=1000,
                             backend=backend.name, **options).fit(X, y)
    assert model.stop_reason_ == "converged"
    np.testing.assert_allclose(model.coef_, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains_by_mini_batches_alike_in_every_backend(backend, name):
    """Each optimizer by name: 40 epochs of batches of 32 come near the optimum (AdamW's
    decoupled decay has its own fixed point, a little away from the L2 objective's), and
    every backend takes the very steps of the NumPy reference."""
    X, y = classification(600, 5)
    best = LogisticRegression(alpha=0.01, tol=1e-10, backend="numpy").fit(X, y).history_["loss"][-1]
    options = dict(alpha=0.01, optimizer=name, lr=0.05, batch_size=32, max_iter=40, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model = LogisticRegression(**options, backend=backend.name).fit(X, y)
        expected = LogisticRegression(**options, backend="numpy").fit(X, y)
    assert relative_gap(model.history_["loss"][-1], best) < (0.05 if name == "adamw" else 0.02)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.history_["loss"], expected.history_["loss"], rtol=1e-10)


def test_default_logistic_fit_reaches_the_optimum(backend):
    """Defaults reach the optimum of the objective to 1e-4 (relative), checked with a tight solve."""
    X, y = classification(2000, 10)
    tight = LogisticRegression(tol=1e-10, backend="numpy").fit(X, y).history_["loss"][-1]
    model = LogisticRegression(backend=backend.name).fit(X, y)
    assert relative_gap(model.history_["loss"][-1], tight) < 1e-4
    assert model.stop_reason_ == "converged"


def test_default_mini_batch_fit_gets_close(backend):
    X, y = classification(4000, 10, dtype=np.float32)
    tight = LogisticRegression(tol=1e-10, backend="numpy").fit(X, y).history_["loss"][-1]
    model = LogisticRegression(optimizer="adam", batch_size=128, max_iter=200, random_state=0, backend=backend.name).fit(X, y)
    final = LogisticRegression(tol=1e-10, backend="numpy")
    final.fit(X, y)
    grad = np.empty(11, dtype=np.float32)
    from fastgd import training

    problem = training.Problem(X, y, None, "log_loss", 1e-4, True)
    theta = np.concatenate([model.coef_.ravel(), model.intercept_]).astype(np.float32)
    loss = training.objective(fastgd.get_backend("numpy"), problem, theta, grad, 1)
    assert relative_gap(loss, tight) < 1e-3


def test_matches_scikit_learn_logistic_regression():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y = classification(1000, 6)
    alpha = 0.01
    ours = LogisticRegression(alpha=alpha, tol=1e-10).fit(X, y)
    theirs = sklearn_linear.LogisticRegression(C=1 / (alpha * len(y)), tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5, atol=1e-6)


def test_lbfgs_float32_reaches_a_tight_gap(backend):
    X, y = classification(3000, 8, dtype=np.float32)
    tight = LogisticRegression(tol=1e-10, backend="numpy").fit(X.astype(np.float64), y.astype(np.float64)).history_["loss"][-1]
    model = LogisticRegression(tol=1e-6, backend=backend.name).fit(X, y)
    assert model.coef_.dtype == np.float32
    assert relative_gap(model.history_["loss"][-1], tight) < 1e-6


# ---- the estimator API -------------------------------------------------------------------------


def test_shapes_and_dtypes():
    X, y = classification(dtype=np.float32)
    clf = LogisticRegression().fit(X, y)
    assert clf.coef_.shape == (1, 5) and clf.intercept_.shape == (1,) and clf.coef_.dtype == np.float32
    assert clf.predict_proba(X).shape == (600, 2) and clf.decision_function(X).dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64  # probabilities near 0 and 1 keep their precision
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)
    Xr, yr = regression()
    reg = LinearRegression().fit(Xr, yr)
    assert reg.coef_.shape == (5,) and isinstance(reg.intercept_, float)
    assert reg.n_features_in_ == 5 and reg.n_iter_ >= 1


def test_string_labels_and_probabilities():
    X, y = classification()
    labels = np.where(y == 1, "spam", "ham")
    clf = LogisticRegression().fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert set(clf.predict(X)) <= {"ham", "spam"}
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict(X), np.where(proba[:, 1] > 0.5, "spam", "ham"))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert clf.score(X, labels) > 0.8


def test_log_proba_is_exact_in_the_tails():
    clf = LogisticRegression().fit(*classification())
    clf.coef_ = clf.coef_ * 1e4
    log_proba = clf.predict_log_proba(classification()[0][:5])
    assert np.isfinite(log_proba).all()


def test_class_weight_balanced_equals_sample_weights():
    X, y = classification()
    y[:400] = 0  # imbalance
    counts = np.bincount(y.astype(int))
    weights = (len(y) / (2 * counts))[y.astype(int)]
    a = LogisticRegression(class_weight="balanced", tol=1e-9).fit(X, y)
    b = LogisticRegression(tol=1e-9).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    c = LogisticRegression(class_weight={0: 1.0, 1: 3.0}, tol=1e-9).fit(X, y)
    d = LogisticRegression(tol=1e-9).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-6)


def test_pickle_round_trip():
    X, y = classification()
    clf = LogisticRegression(optimizer="adam", lr=0.05, max_iter=50).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.stop_reason_ == clf.stop_reason_


def test_get_set_params_and_repr():
    clf = LogisticRegression(alpha=0.5, optimizer="adam")
    params = clf.get_params()
    assert params["alpha"] == 0.5 and params["optimizer"] == "adam" and "class_weight" in params
    clf.set_params(alpha=0.1)
    assert clf.alpha == 0.1
    assert "alpha=0.1" in repr(clf)


def test_optimizer_object_is_copied_not_mutated():
    X, y = classification()
    opt = optim.Adam(lr=0.05)
    LogisticRegression(optimizer=opt, max_iter=20).fit(X, y)
    assert opt.state is None and opt.step_count == 0


def test_optimizer_with_weight_decay_is_refused():
    with pytest.raises(ValueError, match="weight_decay=0.01.*alpha"):
        LogisticRegression(optimizer=optim.AdamW()).fit(*classification())


def test_warm_start_continues():
    X, y = classification()
    clf = LogisticRegression(optimizer="adam", lr=0.01, max_iter=5, tol=0.0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        clf.fit(X, y)
        first = clf.history_["loss"][-1]
        clf.fit(X, y)
    assert clf.history_["loss"][0] < first * 1.01
    assert clf.history_["loss"][0] < LogisticRegression(optimizer="adam", lr=0.01, max_iter=1).fit(X, y).history_["loss"][0]


def test_partial_fit_accumulates():
    X, y = classification()
    clf = LogisticRegression(optimizer="adam", lr=0.05, batch_size=64, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:300], y[:300], classes=[0, 1])
    losses = []
    for _ in range(10):
        clf.partial_fit(X, y)
        losses.append(clf.history_["loss"][-1])
    assert losses[-1] < losses[0]
    assert clf._optimizer.step_count == 5 + 10 * 10


def test_early_stopping_uses_a_held_out_set():
    X, y = classification(2000)
    clf = LogisticRegression(optimizer="adam", lr=0.05, early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                             max_iter=500, random_state=0).fit(X, y)
    assert "validation_loss" in clf.history_ and clf.stop_reason_ in ("stalled", "converged")
    assert clf.n_iter_ < 500


# ---- bad input ----------------------------------------------------------------------------------


NON_FINITE_FITS = {
    "lbfgs": dict(),
    "full batch": dict(optimizer="adam", lr=0.1, max_iter=5),
    "mini-batch": dict(optimizer="adam", batch_size=32, max_iter=2),
    "early stopping": dict(optimizer="sgd", batch_size=32, early_stopping=True, max_iter=3),
}


@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression, fastgd.MLPClassifier, fastgd.MLPRegressor])
@pytest.mark.parametrize("fit", NON_FINITE_FITS, ids=list(NON_FINITE_FITS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_is_found_when_training_meets_it(backend, cls, fit, bad):
    """fit looks at X's values only when training meets a non-finite value: the error names X and its first bad
    entry, no divergence warning comes before it, and the estimator is left unfitted.  The bad entry sits in the
    last row, which early stopping's held-out set (10%, drawn at random) may or may not hold."""
    X, y = classification(200, 4)
    X[-1, 2] = bad
    if fit == "lbfgs" and issubclass(cls, fastgd.MLPClassifier | fastgd.MLPRegressor):
        options = dict(optimizer="lbfgs", max_iter=5)
    else:
        options = NON_FINITE_FITS[fit]
    model = cls(backend=backend.name, random_state=0, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastgd.ConvergenceWarning)
        warnings.filterwarnings("error", message=".*diverged")
        with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index \(199, 2\)\)"):
            model.fit(X, y)
    assert not [name for name in vars(model) if name.endswith("_")], vars(model).keys()


def test_a_failed_fit_leaves_a_fitted_estimator_as_it_was(backend):
    X, y = classification(200, 4)
    model = LogisticRegression(backend=backend.name).fit(X, y)
    before = {name: copy.deepcopy(value) for name, value in vars(model).items()}
    X_bad = np.hstack([X, X[:, :1]])
    X_bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        model.fit(X_bad, np.where(y > 0, "yes", "no"))
    assert vars(model).keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_equal(getattr(model, name), value, err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_input_errors(cls):
    X, y = classification()
    model = cls()
    with pytest.raises(ValueError, match="NaN"):
        X_nan = X.copy()
        X_nan[3, 1] = np.nan
        model.fit(X_nan, y)
    with pytest.raises(ValueError):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError):
        model.fit(np.empty((0, 5)), np.empty(0))
    with pytest.raises(NotFittedError, match="not fitted"):
        cls().predict(X)
    model.fit(X, y)
    with pytest.raises(ValueError, match="5 features"):
        model.predict(X[:, :3])
    for bad in (dict(alpha=-1.0), dict(max_iter=0), dict(tol=-1.0), dict(batch_size=0), dict(optimizer="newton"),
                dict(lr=-0.1), dict(backend="cuda"), dict(clip_norm=0.0), dict(optimizer="lbfgs", batch_size=10),
                dict(early_stopping=True, validation_fraction=1.5), dict(batch_size=2**63), dict(n_threads=2**31),
                dict(fit_intercept="yes"), dict(verbose=-1)):
        with pytest.raises(ValueError):
            cls(**bad).fit(X, y)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(alpha=-1.0), r"The 'alpha' parameter of \w+ must be a float in the range \[0, inf\); got -1.0"),
        (dict(optimizer="newton"), r"'optimizer' parameter .* must be one of 'auto', 'lbfgs', 'sgd', .* got 'newton'"),
        (dict(batch_size=2**63), r"'batch_size' parameter .* got 9223372036854775808"),
        (dict(max_iter=1.5), r"'max_iter' parameter .* an int in the range \[1, inf\); got 1.5"),
    ],
)
def test_parameter_errors_name_the_parameter_the_value_and_what_is_allowed(bad, message):
    X, y = classification()
    model = LogisticRegression(**bad)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("conflict", [dict(batch_size=32), dict(schedule=0.1), dict(early_stopping=True)], ids=str)
def test_explicit_lbfgs_refuses_what_it_cannot_honour(conflict):
    X, y = classification()
    with pytest.raises(ValueError, match="optimizer='lbfgs' is full-batch .* cannot honour"):
        LogisticRegression(optimizer="lbfgs", **conflict).fit(X, y)
    with pytest.raises(ValueError, match="cannot honour partial_fit"):
        LogisticRegression(optimizer="lbfgs").partial_fit(X, y, classes=[0, 1])


def test_auto_is_lbfgs_for_a_plain_fit_and_adam_otherwise():
    X, y = classification()
    plain = LogisticRegression().fit(X, y)
    assert plain._optimizer is None and "lr" not in plain.history_  # L-BFGS: iterations, no learning rate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        for options in (dict(batch_size=32, max_iter=3), dict(schedule=0.05, max_iter=3), dict(early_stopping=True, max_iter=3)):
            model = LogisticRegression(**options).fit(X, y)
            assert isinstance(model._optimizer, fastgd.optim.Adam), options
            assert "lr" in model.history_
    partial = LogisticRegression(batch_size=16).partial_fit(X, y, classes=[0, 1])
    assert isinstance(partial._optimizer, fastgd.optim.Adam) and partial.n_iter_ == 1


def test_classifier_label_errors():
    X, _ = classification()
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, np.linspace(0, 1, len(X)))


def test_predict_before_fit_is_not_fitted_error():
    with pytest.raises(NotFittedError):
        LogisticRegression().predict_proba(np.ones((2, 2)))


# ---- threads and memory ---------------------------------------------------------------------------


def test_two_fits_in_two_threads_match_sequential_fits(backend):
    X, y = classification(3000, 8)
    options = dict(optimizer="adam", lr=0.02, batch_size=64, max_iter=15, tol=0.0, random_state=1, backend=backend.name, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        sequential = [LogisticRegression(**options).fit(X, y).coef_ for _ in range(2)]
        results = [None, None]

        def work(k):
            results[k] = LogisticRegression(**options).fit(X, y).coef_

        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for coef in results:
        np.testing.assert_array_equal(coef, sequential[0])


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_a_thousand_fit_predict_rounds_do_not_grow_memory():
    X, y = classification(200, 4)
    clf = LogisticRegression(max_iter=20)
    for _ in range(100):
        clf.fit(X, y).predict_proba(X)
    before = _rss_kib()
    for _ in range(1000):
        clf.fit(X, y).predict_proba(X)
    assert _rss_kib() - before < 20_000  # KiB; a leak of one float per round per row would show


# ---- scikit-learn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scikit_learn_estimator_checks(cls):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator_checks.check_estimator(cls(), expected_failed_checks=EXPECTED_FAILED_CHECKS)


def test_clone_pipeline_and_grid_search():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = classification()
    assert clone(LogisticRegression(alpha=0.3)).alpha == 0.3
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert pipeline.score(X, y) > 0.8
    search = GridSearchCV(LogisticRegression(), {"alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] in (1e-4, 1e-1)


def test_convergence_warning_is_scikit_learns_when_installed():
    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    assert fastgd.ConvergenceWarning is sklearn_exceptions.ConvergenceWarning


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib")
    clf = LogisticRegression(optimizer="adam", lr=0.05, max_iter=30).fit(*classification())
    path = tmp_path / "history.png"
    figure = fastgd.plot_history(clf, path)
    assert path.stat().st_size > 1000 and figure is not None


def test_works_without_scikit_learn(run_python):
    """With scikit-learn hidden, the estimators keep their behaviour and messages on stand-ins."""
    code = """
import sys
sys.modules["sklearn"] = None  # as if it were not installed
import numpy as np, warnings, fastgd
X, y, _ = fastgd.datasets.make_classification(500, 4, random_state=0)
clf = fastgd.LogisticRegression(alpha=0.01).fit(X, np.where(y == 1, "b", "a"))
assert clf.score(X, np.where(y == 1, "b", "a")) > 0.8
assert clf.get_params()["alpha"] == 0.01 and "alpha=0.01" in repr(clf)
reg = fastgd.LinearRegression().fit(X, X @ np.ones(4))
assert reg.score(X, X @ np.ones(4)) > 0.999
try:
    fastgd.LinearRegression().predict(X)
except ValueError as e:
    assert "not fitted" in str(e)
else:
    raise AssertionError("no NotFittedError")
try:
    reg.predict(X[:, :2])
except ValueError as e:
    assert "2 features" in str(e)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fastgd.LogisticRegression(optimizer="sgd", lr=1e-3, max_iter=2, tol=0.0).fit(X, y)
assert any(issubclass(w.category, fastgd.ConvergenceWarning) for w in caught)
assert fastgd.ConvergenceWarning.__module__ == "fastgd._sklearn_compat"
print("ok")
"""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_validation_loss_is_the_held_out_loss_gathered_block_by_block(monkeypatch):
    from fastgd import linear_model, losses

    monkeypatch.setattr(linear_model, "HELD_OUT_BLOCK", 7)  # many blocks
    X, y = classification(300, 4)
    model = LogisticRegression(optimizer="adam", lr=0.05, early_stopping=True, max_iter=2, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
        model.fit(X, y)
    held = model._validation_rows(y.astype(np.float64), np.random.default_rng(0))
    expected = losses.logistic_loss_grad(X[held], y[held], model.coef_.ravel(), model.intercept_[0])[0]
    assert model.history_["validation_loss"][-1] == pytest.approx(expected, rel=1e-12)
