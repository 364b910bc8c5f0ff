"""
Training on Dask
================

:class:`fastgd.LogisticRegression` (and every fastgd estimator) accepts ``dask.array`` inputs. The
data stays on the workers: each evaluation of the objective sends the parameters to one task per
worker, which runs the same fused loss+gradient kernel as an in-process fit on each chunk it holds and
returns one ``(weighted loss sum, gradient sum, weight sum)`` per chunk; the client adds these small
vectors in chunk order and L-BFGS (SciPy's) runs on the client. The fit therefore reaches the same
optimum as in one process, whatever the chunking.

This example starts a local cluster of two worker processes, fits the same data on it and in
process, and compares the two.
"""

# %%
# The data, in uneven chunks
# --------------------------
# 20,000 samples with 10 features, generated in NumPy and cut into four row chunks of different
# sizes. (On a real cluster the array would come from storage, e.g. ``da.from_zarr``; the workers then
# read their chunks directly.)

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

import fastgd

X, y, _ = fastgd.datasets.make_classification(20_000, 10, random_state=0)
y = y.astype(np.int64)  # labels 0 and 1
chunk_rows = (7_000, 2_500, 6_000, 4_500)
X_dask = da.from_array(X, chunks=(chunk_rows, 10))
y_dask = da.from_array(y, chunks=(chunk_rows,))
print(f"X: {X_dask.shape}, row chunks {X_dask.chunks[0]}")

# %%
# The fit in one process
# ----------------------

local = fastgd.LogisticRegression(alpha=1e-4, tol=1e-8).fit(X, y)

# %%
# The same fit on a local cluster
# -------------------------------
# Two worker processes with one thread each; the ``with`` block closes the client and the cluster at
# the end. ``predict`` on a Dask array is lazy: it returns a Dask array, computed here only for the
# first rows; ``score`` runs on the workers too.
#
# The workers are new Python processes started with ``spawn`` (Dask's default), which import the
# main script again: in a script, the code that starts the cluster, and everything after it, goes
# under ``if __name__ == "__main__":`` (in a notebook or an interactive session it need not).

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        print(f"workers: {len(client.scheduler_info()['workers'])}")
        distributed = fastgd.LogisticRegression(alpha=1e-4, tol=1e-8).fit(X_dask, y_dask)
        labels = distributed.predict(X_dask)
        print(f"predict returned a dask array: {isinstance(labels, da.Array)}, chunks {labels.chunks[0]}; "
              f"first labels {labels[:8].compute()}")
        distributed_accuracy = distributed.score(X_dask, y_dask)

# %%
# The same objective
# ------------------
# Both fits minimize ``mean log-loss + alpha/2·||w||²``; their ``history_["loss"]`` is that objective
# at each L-BFGS iteration.

if __name__ == "__main__":
    for name, model in {"in process": local, "on Dask": distributed}.items():
        print(f"{name:>11}: {model.n_iter_} iterations, stop reason {model.stop_reason_!r}, "
              f"objective {model.history_['loss'][-1]:.12f}")
    final_local, final_dask = local.history_["loss"][-1], distributed.history_["loss"][-1]
    print(f"relative objective gap {abs(final_dask - final_local) / final_local:.1e}; "
          f"largest coefficient difference {np.max(np.abs(distributed.coef_ - local.coef_)):.1e}")
    print(f"accuracy: in process {local.score(X, y):.4f}, on Dask {distributed_accuracy:.4f}")

    fig, axis = plt.subplots(figsize=(8, 4.5), layout="constrained")
    best = min(final_local, final_dask)
    for name, model, style in (("in process", local, dict(marker="o", linewidth=3, alpha=0.5)),
                               ("on Dask (4 uneven chunks, 2 workers)", distributed, dict(marker=".", linestyle="--"))):
        iterations = np.arange(1, len(model.history_["loss"]) + 1)
        axis.semilogy(iterations, model.history_["loss"] - best + 1e-16, label=name, **style)
    axis.set(xlabel="L-BFGS iteration", ylabel="objective − final objective + 1e-16 (log)",
             title="LogisticRegression: the same path in process and on Dask")
    axis.grid(True, alpha=0.3)
    axis.legend()
    plt.show()

# %%
# The two curves lie on top of each other: the per-chunk sums are added in chunk order, so the
# objective and its gradient agree with the in-process ones to rounding, and L-BFGS takes the same
# steps. On a real cluster the cost of an evaluation is the time to read each worker's rows plus a
# round trip; see the README's Dask section for the cost model.
