"""Dask inputs: the estimators on a real ``distributed.LocalCluster`` of 2 worker processes started here.

Set ``FASTGD_REQUIRE_DASK=1`` (as CI does) to make a missing Dask a failure, not a skip.  A fit on Dask arrays
must reach the in-process optimum whatever the chunking, keep the data on the workers,
survive a worker killed in the middle, name bad input as in process, and predict lazily.
"""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

if os.environ.get("FASTGD_REQUIRE_DASK", "") not in ("", "0"):  # CI: the Dask tests must run, not skip
    import dask.array as da
    import dask.dataframe as dd
    import distributed
else:
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")

from fastgd import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor  # noqa: E402
from fastgd import dask as fdask  # noqa: E402
from fastgd import training  # noqa: E402
from fastgd.backends import raw_kernels  # noqa: E402


def local_cluster(**options):
    """A LocalCluster of 2 single-threaded worker processes.  Starting it sets OMP_NUM_THREADS=1 (and the like) in
    this process's environment for its workers; the environment is restored at once, so that later tests (and
    their subprocesses) do not inherit it."""
    environment = dict(os.environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dashboard's port may be taken
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                           **options)
    os.environ.clear()
    os.environ.update(environment)
    return cluster


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(memory_limit="2GiB") as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as client:
        yield client


def classification(n=6000, d=11, k=2, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    scores = X @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))
    y = np.argmax(scores, axis=1) if k > 2 else (scores[:, 0] > 0).astype(np.int64)
    return X, y


def objective_at(model, X, y, sample_weight=None):
    """The fitted model's training objective, in process, in float64."""
    targets, weights = model._prepare_targets(X.astype(np.float64), y, sample_weight, partial=False)
    problem = model._make_problem(X.astype(np.float64), targets, weights, model.alpha)
    theta = np.concatenate([np.asarray(model.coef_, dtype=np.float64).reshape(-1, X.shape[1]).T.ravel(),
                            np.ravel(model.intercept_).astype(np.float64)])
    return training.objective(raw_kernels("numpy"), problem, theta, np.empty_like(theta), 1)


def relative_gap(value, best):
    return (value - best) / abs(best)


CHUNKINGS = {
    "one chunk": lambda n, d: (n, d),
    "uneven rows": lambda n, d: ((1000, 2500, 7, 2493), (d,)),
    "rows and columns": lambda n, d: (1500, 4),
}


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("k", [2, 3], ids=["binary", "multinomial"])
def test_lbfgs_fit_on_dask_reaches_the_in_process_optimum(client, chunking, k):
    X, y = classification(k=k)
    best = LogisticRegression(tol=1e-12, max_iter=2000).fit(X, y)
    Xd = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    model = LogisticRegression(tol=1e-12, max_iter=2000).fit(Xd, da.from_array(y, chunks=777))
    assert relative_gap(objective_at(model, X, y), objective_at(best, X, y)) < 1e-8
    assert model.coef_.shape == best.coef_.shape and model.coef_.dtype == np.float64
    assert model.stop_reason_ in ("converged", "precision") and len(model.history_["loss"]) == model.n_iter_
    np.testing.assert_array_equal(model.classes_, best.classes_)


def test_linear_regression_with_weights_on_dask(client):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 7)).astype(np.float32)
    y = X @ rng.standard_normal(7) + 0.1 * rng.standard_normal(5000)
    weights = rng.random(5000) * 3
    best = LinearRegression(tol=1e-10, max_iter=3000).fit(X, y, sample_weight=weights)
    model = LinearRegression(tol=1e-10, max_iter=3000).fit(
        da.from_array(X, chunks=(1300, 7)), da.from_array(y, chunks=2000), sample_weight=da.from_array(weights, chunks=900))
    assert model.coef_.dtype == np.float32
    np.testing.assert_allclose(model.coef_, best.coef_, rtol=1e-4, atol=1e-5)
    assert model.score(da.from_array(X, chunks=1000), y, weights) == pytest.approx(best.score(X, y, weights), rel=1e-6)


def test_predictions_are_lazy_dask_arrays_equal_to_in_process(client):
    X, y = classification(k=3)
    model = LogisticRegression().fit(X, y)
    Xd = da.from_array(X, chunks=(1001, 5))
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(model, method)(X), rtol=1e-12, atol=1e-12, err_msg=method)
    assert model.score(Xd, da.from_array(y, chunks=500)) == pytest.approx(model.score(X, y), abs=1e-12)


def test_a_dask_dataframe_of_unknown_chunk_lengths(client):
    pd = pytest.importorskip("pandas")
    X, y = classification()
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]), npartitions=4)
    frame = frame[frame.f0 > -100]  # a filter: the partitions' lengths are unknown now
    labels = dd.from_pandas(pd.Series(y), npartitions=4)
    labels = labels[frame.index.to_series() >= 0]
    model = LogisticRegression(tol=1e-10).fit(frame, labels)
    best = LogisticRegression(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, best.coef_, rtol=1e-6, atol=1e-8)
    assert model.predict(frame).compute().shape == (len(X),)


def test_the_data_is_persisted_on_the_workers_and_each_worker_runs_its_chunks(client):
    X, y = classification()
    Xd, yd = da.from_array(X, chunks=1500), da.from_array(y, chunks=1500)
    Xp, yp, _ = fdask.persist_if_it_fits(Xd, yd, None)
    distributed.wait([Xp, yp])
    assert set(client.who_has(Xp)) and all(client.who_has(Xp).values())
    with distributed.get_task_stream(client) as stream:
        LogisticRegression(max_iter=5).fit(Xp, yp)
    evaluation_tasks = [t for t in stream.data if "_run_chunks" in str(t["key"])]
    workers = {t["worker"] for t in evaluation_tasks}
    assert workers == set(client.scheduler_info()["workers"])  # one task per worker and evaluation, on its chunks
    assert len(evaluation_tasks) % 2 == 0 and len(evaluation_tasks) >= 4


@pytest.mark.parametrize("labels", [np.array([0, 1]), np.array([0.0, 1.0]), np.array(["no", "yes"])],
                         ids=["int", "float indices", "str"])
def test_labels_of_persisted_data_are_found_in_one_task_and_mapped_as_in_process(client, labels):
    X, y = classification()
    y = labels[y]
    Xp, yp = client.persist([da.from_array(X, chunks=1500), da.from_array(y, chunks=1500)])
    model = LogisticRegression(tol=1e-10, max_iter=500).fit(Xp, yp)
    local = LogisticRegression(tol=1e-10, max_iter=500).fit(X, y)
    np.testing.assert_array_equal(model.classes_, local.classes_)
    np.testing.assert_allclose(model.coef_, local.coef_, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="not in classes"):
        LogisticRegression().partial_fit(Xp, yp, classes=labels[:1])


def test_without_a_client_the_local_scheduler_is_used():
    assert fdask._client() is None
    X, y = classification(n=2000)
    model = LogisticRegression(tol=1e-10).fit(da.from_array(X, chunks=600), y)
    best = LogisticRegression(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, best.coef_, rtol=1e-7, atol=1e-9)


def test_a_nan_in_a_chunk_is_named_as_in_process(client):
    X, y = classification()
    X[4321, 3] = np.nan
    with pytest.raises(ValueError) as in_process:
        LogisticRegression().fit(X, y)
    with pytest.raises(ValueError) as on_dask:
        LogisticRegression().fit(da.from_array(X, chunks=1000), da.from_array(y, chunks=1000))
    assert str(on_dask.value) == str(in_process.value) == "X contains NaN or infinity (first at index (4321, 3))"


@pytest.mark.parametrize("make, error, message", [
    (lambda X, y: (da.from_array(X[:, :, None]), y), ValueError, "must be 2-D"),
    (lambda X, y: (da.from_array(X), y[:-1]), ValueError, "y must have shape"),
    (lambda X, y: (da.from_array(X), da.from_array(np.full(len(y), np.inf))), ValueError, "NaN or infinity"),
    (lambda X, y: (da.from_array(X), da.from_array(X[:, 0])), ValueError, "continuous"),
    (lambda X, y: (da.from_array(X), da.zeros(len(y))), ValueError, "only one class"),
    (lambda X, y: (da.from_array(X.astype(complex)), y), TypeError, "real numbers"),
])
def test_bad_dask_input_is_named(make, error, message):
    X, y = classification(n=300)
    model = LogisticRegression()
    with pytest.raises(error, match=message):
        model.fit(*make(X, y))
    assert not hasattr(model, "coef_")


def test_bad_sample_weight_on_dask_is_named():
    X, y = classification(n=300)
    with pytest.raises(ValueError, match="non-negative"):
        LogisticRegression().fit(da.from_array(X), y, sample_weight=-np.ones(300))


def test_minibatch_local_epochs_train_every_model(client):
    X, y = classification(n=4000)
    Xd, yd = da.from_array(X, chunks=1000), da.from_array(y, chunks=1000)
    model = LogisticRegression(batch_size=64, max_iter=30, lr=0.05, random_state=0).fit(Xd, yd)
    best = LogisticRegression(tol=1e-10).fit(X, y)
    assert relative_gap(objective_at(model, X, y), objective_at(best, X, y)) < 1e-2
    assert model.history_["loss"][-1] < model.history_["loss"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((8,), max_iter=10, lr=0.01, random_state=0).fit(Xd, yd)
    assert mlp.score(Xd, yd) > 0.8 and np.isfinite(mlp.history_["dead_fraction_layer1"]).all()
    regressor = MLPRegressor((4,), max_iter=2, random_state=0).fit(Xd, np.column_stack([y, -y]).astype(float))
    assert regressor.predict(Xd).shape == (4000, 2)


def test_a_worker_killed_in_the_middle_of_a_fit_does_not_change_the_answer(client):
    X, y = classification(n=20000, d=20)
    Xd, yd = da.from_array(X, chunks=2500), da.from_array(y, chunks=2500)
    settings = dict(optimizer="sgd", lr=0.5, max_iter=150, tol=0)
    undisturbed = LogisticRegression(**settings).fit(*client.persist([Xd, yd]))
    before = client.run(os.getpid)
    result = {}
    fit = threading.Thread(target=lambda: result.update(model=LogisticRegression(**settings).fit(
        *client.persist([Xd, yd]))))
    fit.start()
    time.sleep(0.5)
    assert fit.is_alive(), "the fit ended before the worker could be killed"
    victim_address, victim_pid = next(iter(before.items()))
    os.kill(victim_pid, signal.SIGKILL)
    fit.join(timeout=120)
    assert not fit.is_alive()
    client.wait_for_workers(2, timeout=60)
    assert victim_pid not in client.run(os.getpid).values()
    np.testing.assert_allclose(result["model"].coef_, undisturbed.coef_, rtol=1e-6)
    assert result["model"].n_iter_ == undisturbed.n_iter_ == 150


def test_import_fastgd_does_not_import_dask(run_python):
    done = run_python("-c", "import sys, fastgd, fastgd.linear_model; print('dask' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_partial_fit_on_dask_takes_the_in_process_step(client):
    X, y = classification(n=3000)
    local, on_dask = LogisticRegression(lr=0.1), LogisticRegression(lr=0.1)
    for _ in range(2):
        local.partial_fit(X, y, classes=[0, 1])
        on_dask.partial_fit(da.from_array(X, chunks=700), da.from_array(y, chunks=700), classes=[0, 1])
    np.testing.assert_allclose(on_dask.coef_, local.coef_, rtol=1e-10, atol=1e-12)


def held_settles_below(client, limit, timeout=10.0):
    """Whether the bytes the cluster holds fall below ``limit`` within ``timeout`` seconds: the scheduler learns
    of the release of a finished computation's intermediates a moment after its result reached the client."""
    deadline = time.monotonic() + timeout
    while sum(client.nbytes(summary=True).values()) >= limit:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_zarr_array_larger_than_the_workers_memory(tmp_path):
    """Out of core: 2 workers limited to 600 MiB each (a worker with fastgd and scikit-learn imported takes about
    260 MiB) fit a 1.36 GB float32 X stored in Zarr.  The data is not persisted (it does not fit), every pass reads
    it from the store a chunk at a time, no worker is restarted for exceeding its memory, and the fit is the
    in-process one on the same data."""
    zarr = pytest.importorskip("zarr")
    n, d, rows = 3_400_000, 100, 50_000
    cluster = local_cluster(memory_limit="600MiB")
    w = np.random.default_rng(0).standard_normal(d).astype(np.float32)
    with cluster, distributed.Client(cluster) as client:
        X = da.random.default_rng(1).standard_normal((n, d), chunks=(rows, d), dtype=np.float32)
        X.to_zarr(str(tmp_path / "X.zarr"))
        Xz = da.from_zarr(str(tmp_path / "X.zarr"))
        (Xz @ w > 0).astype(np.float32).to_zarr(str(tmp_path / "y.zarr"))
        yz = da.from_zarr(str(tmp_path / "y.zarr"))
        assert Xz.nbytes > sum(worker["memory_limit"] for worker in client.scheduler_info()["workers"].values())
        pids = client.run(os.getpid)
        model = LogisticRegression(max_iter=3, tol=0).fit(Xz, yz)
        assert client.run(os.getpid) == pids, "a worker was restarted (out of memory?)"
        assert held_settles_below(client, 50 * 2**20)  # nothing persisted
    X_local = zarr.open_array(str(tmp_path / "X.zarr"), mode="r")[:]
    local = LogisticRegression(max_iter=3, tol=0).fit(X_local, zarr.open_array(str(tmp_path / "y.zarr"), mode="r")[:])
    assert model.stop_reason_ == local.stop_reason_ == "max_iter"
    np.testing.assert_allclose(model.coef_, local.coef_, rtol=2e-4, atol=1e-5)
