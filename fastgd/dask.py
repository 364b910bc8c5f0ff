"""Training and prediction on Dask arrays: the data stays on the workers.

The estimators of :mod:`fastgd.linear_model` and :mod:`fastgd.neural_network` accept ``dask.array`` inputs (and Dask
DataFrames of numeric columns) wherever they accept NumPy arrays; this module is what they call.  ``import fastgd``
does not import Dask: the estimators recognize a Dask collection by its ``__dask_graph__`` and import this module
then (``pip install "fastgd[dask]"``).

How a fit runs.  X is split by rows only (chunks along columns are merged into one); y and ``sample_weight`` are
aligned with X's row chunks.  When the data fits in half the workers' memory it is persisted on them, otherwise
every pass reads it again from its source (a Zarr store, files): memory stays bounded by a few chunks per worker.
Each evaluation of the objective ships the parameters to one task per worker, which runs the same fused
loss+gradient kernel as a fit in one process on each chunk the worker holds and returns one vector per chunk,
``[sum_i s_i l_i, sum_i s_i, sum_i s_i grad_i]``; the client adds them pairwise in chunk order (a tree, the same
whatever the placement): a single round trip per evaluation.  (A tree of additions on the workers would wait for
the scheduler at every level, about 10 ms each on a local cluster; the vectors are parameter-sized.)  The solvers (SciPy's L-BFGS, full-batch descent and Armijo) and the fit loop (history, stop rules,
warnings, divergence guard) are the in-process ones, unchanged, on the client.

Mini-batch training (``batch_size`` set) runs *local epochs*: every chunk starts the epoch from the same
parameters and optimizer state, runs one compiled epoch of mini-batch steps over its own rows, and the chunks'
parameters and optimizer buffers are then averaged, weighted by each chunk's total sample weight (rows when
unweighted); the step count moves on by the largest number of steps a chunk took.  This is "local SGD" (model
averaging once per epoch): with one chunk it is exactly the in-process epoch; with several it is not the same
sequence of steps as one process would take (each chunk sees only its rows, and averaging is not a step), but it
converges to the same optimum of a convex problem as the rate decreases.  Batches never mix rows of two chunks.

Without a ``distributed.Client``, Dask's local scheduler runs the same graphs in this process; fastgd never starts
a cluster.
"""

import copy
import dataclasses
import math
import os

import numpy as np

from fastgd import _validation as v
from fastgd import training
from fastgd.backends import raw_kernels

PERSIST_FRACTION = 0.5  # persist when the data needs at most this fraction of the workers' memory


def is_dask_collection(value):
    """Whether ``value`` is a Dask collection (array, DataFrame, Series), by duck typing: no import of Dask."""
    return hasattr(value, "__dask_graph__") and callable(getattr(value, "__dask_graph__"))


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as error:  # pragma: no cover - the collection exists, so Dask does
        raise ImportError('Dask inputs need dask: pip install "fastgd[dask]"') from error
    return dask, da


# ---- inputs -----------------------------------------------------------------------------------------------


def as_row_chunked(X, name="X"):
    """``X`` as a 2-D Dask array chunked by rows only, with known chunk sizes, in float32 (kept) or float64.

    A DataFrame must have numeric columns only; chunks along columns are merged (each row block must hold whole
    rows for the fused kernels); unknown row chunk sizes (a DataFrame's partitions) are computed, a pass over the
    index.  Raises ``TypeError`` for non-numeric data and ``ValueError`` for a shape that is not 2-D.
    """
    dask, da = _import_dask()
    if hasattr(X, "dtypes") and hasattr(X, "to_dask_array"):  # a Dask DataFrame
        bad = [str(col) for col, dtype in X.dtypes.items() if not np.issubdtype(np.dtype(dtype), np.number)
               or np.issubdtype(np.dtype(dtype), np.complexfloating)]
        if bad:
            raise TypeError(f"{name} is a Dask DataFrame with non-numeric columns {bad[:5]}; fastgd needs numbers")
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array or a Dask DataFrame, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got a Dask array of shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating) or X.dtype == bool:
        raise TypeError(f"{name} has dtype {X.dtype}; fastgd needs real numbers")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if any(math.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} has shape {X.shape}: it needs at least one sample and one feature")
    return X


def aligned_vector(values, X, name, dtype=None, allow_columns=False):
    """``values`` (a 1-D Dask array or Series, or a NumPy array) as a Dask array chunked like X's rows;
    ``allow_columns``: a 2-D (n, k) array is kept (MLPRegressor's targets), in one chunk along columns."""
    dask, da = _import_dask()
    if values is None:
        return None
    if hasattr(values, "to_dask_array"):
        values = values.to_dask_array(lengths=True)
    if not isinstance(values, da.Array):
        values = da.from_array(np.asarray(values))
    if any(math.isnan(size) for size in values.chunks[0]):
        values = values.compute_chunk_sizes()
    if values.ndim == 2 and values.shape[1] == 1 and not allow_columns:
        values = values[:, 0]
    if values.ndim not in ((1, 2) if allow_columns else (1,)) or values.shape[0] != X.shape[0]:
        expected = f"({X.shape[0]},) or ({X.shape[0]}, k)" if allow_columns else f"({X.shape[0]},)"
        raise ValueError(f"{name} must have shape {expected}, aligned with X's rows; got shape {values.shape}")
    rows = (X.chunks[0],) if values.ndim == 1 else (X.chunks[0], -1)
    if values.chunks[0] != X.chunks[0] or values.ndim == 2 and len(values.chunks[1]) > 1:
        values = values.rechunk(rows)
    return values if dtype is None else values.astype(dtype)


def _client():
    """The ``distributed.Client`` in use, or None (Dask's local scheduler)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def _memory_for_data():
    """Bytes of memory the data may take when persisted: a fraction of the workers' memory limits (or of this
    machine's available memory with the local scheduler); ``math.inf`` when the workers have no limit."""
    client = _client()
    if client is not None:
        limits = [worker.get("memory_limit") or 0 for worker in client.scheduler_info()["workers"].values()]
        if not limits or min(limits) == 0:
            return math.inf
        return PERSIST_FRACTION * sum(limits)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return math.inf
    return PERSIST_FRACTION * available


def persist_if_it_fits(*arrays):
    """The arrays persisted (computed once and kept in the workers' memory) when together they fit in
    :data:`PERSIST_FRACTION` of it, else unchanged: each pass then reads them again from their source."""
    dask, _ = _import_dask()
    present = [a for a in arrays if a is not None]
    if all(_persisted(a) for a in present) or sum(a.nbytes for a in present) > _memory_for_data():
        return arrays
    persisted = iter(dask.persist(*present))
    return tuple(None if a is None else next(persisted) for a in arrays)


def _persisted(array):
    """Whether every block of ``array`` is already held by the cluster (a future of the client in use)."""
    client = _client()
    if client is None:
        return False
    from distributed import futures_of

    held = {future.key for future in futures_of(array)}
    return all(key in held for key in _flat_keys(array))


def check_sample_weight(sample_weight, X):
    """The weights aligned with X in X's dtype, after one pass checking they are finite and non-negative with a
    positive sum (the messages of the in-process check); divided by the largest, as in process."""
    dask, da = _import_dask()
    weights = aligned_vector(sample_weight, X, "sample_weight", dtype=np.float64)
    if weights is None:
        return None
    finite, smallest, largest = dask.compute(da.isfinite(weights).all(), weights.min(), weights.max())
    if not finite:
        raise ValueError("sample_weight contains NaN or infinity")
    if smallest < 0:
        raise ValueError(f"sample_weight must be non-negative; found {float(smallest)!r}")
    if largest == 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return (weights / largest).astype(X.dtype)


def finite_targets(y, dtype):
    """``(y as dtype, max |y|)`` of regression targets y (aligned with X), after one pass checking they are
    finite (the in-process message)."""
    dask, da = _import_dask()
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise TypeError(f"y has dtype {y.dtype}; regression targets must be real numbers")
    y = y.astype(dtype)
    finite, largest = dask.compute(da.isfinite(y).all(), abs(y).max())
    if not finite:
        raise ValueError("y contains NaN or infinity")
    return y, float(largest)


def class_targets(y, classes, dtype):
    """``(classes, targets)`` of class labels y (aligned with X) as :func:`fastgd.linear_model._class_targets`
    makes them in process: the sorted labels (``classes`` when given, else those of y, one pass) and each row's
    class index as ``dtype``, lazily per chunk."""
    _, da = _import_dask()
    from fastgd.linear_model import _check_classification_targets

    present = _labels_present(y)
    if present.dtype.kind == "f" and not np.isfinite(present).all():
        raise ValueError("Input y contains NaN or infinity.")
    _check_classification_targets(present)
    if classes is None:
        classes = present
    unknown = present[~np.isin(present, classes)]
    if unknown.size:
        raise ValueError(f"y contains labels not in classes: {unknown.tolist()[:5]}")
    if y.dtype == dtype and np.array_equal(classes, np.arange(len(classes))):
        return classes, y  # the labels are their class indices already (0/1 float labels): nothing to map
    return classes, y.map_blocks(_class_index, classes, dtype, dtype=dtype)


def _labels_present(y):
    """The sorted distinct labels of y: one task over its blocks when they are on the cluster (``da.unique``'s
    graph costs a task per block and more), else ``da.unique``."""
    if _persisted(y):
        from distributed import futures_of

        return _client().submit(_distinct, *futures_of(y), pure=False).result()
    _, da = _import_dask()
    return da.unique(y).compute()


def _distinct(*blocks):
    return np.unique(np.concatenate([np.unique(block) for block in blocks]))


def _class_index(labels, classes, dtype):
    from fastgd.linear_model import _class_targets

    return _class_targets(labels, classes, dtype)[1]


def _weights_like(y, sample_weight):
    """The sample weights as float64 aligned with y (ones when None)."""
    _, da = _import_dask()
    if sample_weight is None:
        return da.ones_like(y, dtype=np.float64)
    return aligned_vector(sample_weight, y, "sample_weight", dtype=np.float64)


def accuracy_score(y, predicted, sample_weight=None):
    """The weighted fraction of rows where ``predicted`` equals y, computed on the workers (one pass)."""
    dask, _ = _import_dask()
    if any(math.isnan(size) for size in predicted.chunks[0]):
        predicted = predicted.compute_chunk_sizes()
    y = aligned_vector(y, predicted, "y", allow_columns=True)
    weights = _weights_like(y, sample_weight)
    hits, total = dask.compute(((y == predicted) * weights).sum(), weights.sum())
    return float(hits / total)


def r2_score(y, predicted, sample_weight=None):
    """The coefficient of determination ``1 - sum s (y - p)^2 / sum s (y - ybar)^2`` per target, averaged over the
    targets (scikit-learn's ``r2_score``; a constant target scores 1 if predicted exactly, else 0), on the workers
    in two passes over y."""
    dask, _ = _import_dask()
    if any(math.isnan(size) for size in predicted.chunks[0]):
        predicted = predicted.compute_chunk_sizes()
    y = aligned_vector(y, predicted, "y", dtype=np.float64, allow_columns=True)
    if y.ndim == 1 and predicted.ndim == 2:
        y = y[:, None]
    weights = _weights_like(predicted[:, 0] if predicted.ndim == 2 else predicted, sample_weight)
    if y.ndim == 2:
        weights = weights[:, None]
    total, first = dask.compute(weights.sum(axis=0), (weights * y).sum(axis=0))
    spread, residual = dask.compute((weights * (y - first / total) ** 2).sum(axis=0),
                                    (weights * (y - predicted) ** 2).sum(axis=0))
    spread, residual = np.atleast_1d(spread), np.atleast_1d(residual)
    scores = np.where(spread > 0, 1.0 - residual / np.where(spread > 0, spread, 1.0), (residual == 0) * 1.0)
    return float(np.mean(scores))


def _first_non_finite(block):
    """``[[row, column]]`` of the first NaN or infinity of a block, or ``[[-1, -1]]``."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return np.array([[-1, -1]], dtype=np.int64)
    return np.array([np.unravel_index(np.flatnonzero(bad.ravel())[0], block.shape)], dtype=np.int64)


def check_finite(X, name="X"):
    """Raise the in-process ``ValueError`` (:func:`fastgd._validation.check_finite`'s message) when X holds NaN or
    infinity: one pass on the workers, each chunk returning the position of its first bad value."""
    firsts = X.map_blocks(_first_non_finite, dtype=np.int64, chunks=((1,) * len(X.chunks[0]), (2,))).compute()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    for start, (row, column) in zip(starts, firsts):
        if row >= 0:
            raise ValueError(v.non_finite_message(name, (start + row, column)))


# ---- the problem on the workers ---------------------------------------------------------------------------


def _blocks(array):
    """The row blocks of a row-chunked array as Dask delayed objects (None for None)."""
    return None if array is None else list(array.to_delayed().ravel())


def _chunk_handles(X, y, sample_weight):
    """``(client, chunks)``: per row chunk, the blocks ``(X, y, sample_weight)``: distributed futures and the
    client when every array is persisted on a cluster (tasks are then submitted on them directly), else Dask
    delayed objects and None.  A missing sample_weight is None in every chunk."""
    client = _client()
    arrays = [a for a in (X, y, sample_weight) if a is not None]
    if client is not None:
        from distributed import futures_of

        futures = {future.key: future for a in arrays for future in futures_of(a)}
        keys = [[key for key in _flat_keys(a)] for a in arrays]
        if all(key in futures for a_keys in keys for key in a_keys):
            blocks = [[futures[key] for key in a_keys] for a_keys in keys]
            return client, _by_chunk(blocks, sample_weight is None)
    return None, _by_chunk([_blocks(a) for a in arrays], sample_weight is None)


def _placement(client, chunks):
    """``{worker address: [chunk indices]}``: where the persisted chunks' X blocks are (waiting for them), so that
    each evaluation sends one task per worker (a task costs the scheduler and the worker milliseconds; a query of
    the scheduler's table costs one).  Address None: no holder known, any worker.  None without a client."""
    if client is None:
        return None
    from distributed import wait

    blocks = [chunk[0] for chunk in chunks]
    wait(blocks)
    holders = client.who_has(blocks)
    placement = {}
    for index, block in enumerate(blocks):
        placement.setdefault(min(holders.get(block.key) or [None]), []).append(index)
    return placement


def _run_chunks(function, heads, blocks, tail):
    """The task a worker runs per evaluation: ``function`` on each of its chunks; ``(the worker's address, the
    results in a list)``."""
    from distributed import get_worker

    return get_worker().address, [function(*head, *block, *tail) for head, block in zip(heads, blocks)]


def _where(worker):
    """``submit`` options: prefer ``worker`` (any other when it is gone), or let the scheduler choose (None)."""
    return {} if worker is None else {"workers": [worker], "allow_other_workers": True}


def _flat_keys(array):
    keys = array.__dask_keys__()
    while keys and isinstance(keys[0], list):
        keys = [key for row in keys for key in row]
    return keys


def _by_chunk(blocks, unweighted):
    """Per-array lists of blocks -> per-chunk tuples (X, y, sample_weight or None)."""
    if unweighted:
        blocks = [*blocks, [None] * len(blocks[0])]
    return list(zip(*blocks))


def _chunk_problem(spec, X, y, sample_weight):
    """The in-process :class:`fastgd.training.Problem` of one chunk (``spec``: its other fields); X made
    C-contiguous as the kernels read it (a copy only for blocks that are not, e.g. a DataFrame's)."""
    X = np.ascontiguousarray(X)
    kind = spec.pop("kind")
    if kind == "network":
        spec["network"] = copy.deepcopy(spec["network"])  # its record of active units is per problem
        return training.NetworkProblem(X, y, sample_weight, **spec, record=True)
    return training.Problem(X, y, sample_weight, **spec)


def _weight_sum(X, sample_weight):
    """The chunk's total sample weight (its rows when unweighted)."""
    return float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))


def _chunk_sums(spec, backend_name, n_threads, X, y, sample_weight, theta):
    """``[sum_i s_i l_i, sum_i s_i, sum_i s_i grad_i ...]`` of one chunk at ``theta`` (float64): the chunk's
    weighted mean loss and gradient from the fused kernel, times its weight sum."""
    weight = _weight_sum(X, sample_weight)
    sums = np.zeros(2 + theta.shape[0])
    sums[1] = weight
    if weight > 0:
        problem = _chunk_problem(dict(spec), X, y, sample_weight)
        grad = np.empty_like(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            sums[0] = problem.loss_grad(raw_kernels(backend_name), theta, grad, n_threads) * weight
        sums[2:] = grad * weight
    return sums


def _pairwise_sum(parts):
    """The sum of ``parts`` added pairwise in a tree, in their order (deterministic)."""
    while len(parts) > 1:
        parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


@dataclasses.dataclass
class DaskProblem(training.Problem):
    """A :class:`fastgd.training.Problem` whose X, y and sample weights are row-chunked Dask arrays.

    The arrays are persisted when they fit (:func:`persist_if_it_fits`); :meth:`loss_grad` evaluates every chunk
    on the workers (one round trip); the solvers run unchanged.
    ``network``: the :class:`fastgd.network.Network` of an MLP (its ``loss`` is ``"network"``), else None.
    ``task_threads``: threads of each chunk's kernel on a worker (the estimator's ``n_threads`` when set; 1 by
    default, as Dask runs the chunks in parallel with its own threads and processes).
    """

    network: object = None
    task_threads: int = 1

    def __post_init__(self):
        super().__post_init__()
        self.X, self.y, self.sample_weight = persist_if_it_fits(self.X, self.y, self.sample_weight)
        self._client, self._chunks = _chunk_handles(self.X, self.y, self.sample_weight)
        self._placement = _placement(self._client, self._chunks)

    def _run_per_chunk(self, function, head, tail, reduce=False, indexed=False):
        """``function(*head, [chunk index,] X block, y block, weight block, *tail)`` per chunk, in one round trip:
        the list of results in chunk order, or (``reduce``) their sum, added pairwise in chunk order (the same
        whatever the chunks' placement).  Persisted data on a distributed cluster: one task per worker runs the
        chunks it holds; otherwise one Dask graph (the local scheduler, or data read again from its source)."""
        heads = [(*head, index) if indexed else head for index in range(len(self._chunks))]
        if self._client is not None:
            groups = list(self._placement.items())
            tasks = [self._client.submit(_run_chunks, function, [heads[c] for c in chunks],
                                         [self._chunks[c] for c in chunks], tail, pure=False, **_where(worker))
                     for worker, chunks in groups]
            results, placement = [None] * len(self._chunks), {}
            for (_, chunks), (worker, done) in zip(groups, self._client.gather(tasks)):
                placement.setdefault(worker, []).extend(chunks)
                for c, result in zip(chunks, done):
                    results[c] = result
            self._placement = placement  # where the tasks ran: a lost worker's chunks are found where Dask moved them
        else:
            import dask

            task = dask.delayed(function, pure=True)
            results = dask.compute([task(*h, *block, *tail) for h, block in zip(heads, self._chunks)])[0]
        return _pairwise_sum(results) if reduce else results

    def _spec(self):
        spec = dict(loss=self.loss, alpha=0.0, fit_intercept=self.fit_intercept, decoupled=self.decoupled,
                    n_classes=self.n_classes, kind="network" if self.loss == "network" else "linear")
        if self.loss == "network":
            spec["network"] = self.network
        return spec

    @property
    def n_weights(self):
        return self.network.n_weights if self.loss == "network" else super().n_weights

    def split(self, theta):
        if self.loss == "network":
            return theta[:self.n_weights], theta[self.n_weights:]
        return super().split(theta)

    def diagnostics(self, grad):
        return {} if self.loss != "network" else self.network.diagnostics(grad)

    def loss_grad(self, backend, theta, grad, n_threads):
        """The weighted mean loss over every chunk, its gradient written into ``grad``: one round trip."""
        sums = self._run_per_chunk(_chunk_sums, (self._spec(), backend.name, self.task_threads), (theta,),
                                   reduce=True)
        grad[...] = sums[2:] / sums[1]
        return float(sums[0] / sums[1])

    def check_finite(self):
        check_finite(self.X, "X")

    def row_sample(self, backend):
        """Up to 1024 rows spread evenly over X, gathered to the client (see :class:`fastgd.training.RowSample`)."""
        import dask

        n = self.X.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, 1024)).astype(np.intp))
        X, y, weights = dask.compute(self.X[rows], self.y[rows],
                                     None if self.sample_weight is None else self.sample_weight[rows])
        local = _chunk_problem(self._spec(), X, y, weights)
        local.alpha = self.alpha
        return training.RowSample(backend, local)

    def minibatch_runner(self, settings):
        """Local epochs on the chunks, then their parameters and optimizer buffers averaged (module docstring)."""
        rng = np.random.default_rng(settings.random_state)

        def run(backend, problem, theta, grad, optimizer, settings):
            optimizer.bind(theta)  # the optimizer holds its buffers before they are averaged into it
            spec = dict(self._spec(), alpha=self.alpha)
            local = dataclasses.replace(settings, backend=backend.name, n_threads=self.task_threads, verbose=0,
                                        random_state=int(rng.integers(2**62)))
            results = self._run_per_chunk(_local_epoch, (spec, local), (theta, optimizer), indexed=True)
            return _average_into(results, theta, grad, optimizer, self.network)

        return run


def _local_epoch(spec, settings, chunk, X, y, sample_weight, theta, optimizer):
    """One compiled epoch of mini-batch steps on chunk number ``chunk`` from ``theta`` and ``optimizer`` (copies),
    its rows in an order drawn from ``settings.random_state`` and ``chunk``: ``(weight, loss, theta, grad,
    optimizer snapshot, active units or None)``."""
    weight = _weight_sum(X, sample_weight)
    theta, grad = theta.copy(), np.empty_like(theta)
    if weight == 0:
        return weight, 0.0, theta, np.zeros_like(theta), optimizer.snapshot(), None
    problem = _chunk_problem(dict(spec), X, y, sample_weight)
    seed = np.random.SeedSequence([settings.random_state, chunk]).generate_state(1)[0]
    run = training.minibatch_runner(problem, dataclasses.replace(settings, random_state=int(seed)))
    with np.errstate(over="ignore", invalid="ignore"):
        loss = run(raw_kernels(settings.backend), problem, theta, grad, optimizer, settings)
    active = problem.network.active if spec["kind"] == "network" else None
    return weight, loss, theta, grad, optimizer.snapshot(), active


def _average_into(results, theta, grad, optimizer, network=None):
    """Average the chunks' parameters, epoch gradients and optimizer buffers into ``theta``, ``grad`` and
    ``optimizer``, weighted by the chunks' weight sums; returns the weighted mean epoch loss."""
    results = [r for r in results if r[0] > 0]
    total = sum(r[0] for r in results)
    share = [r[0] / total for r in results]
    loss = sum(s * r[1] for s, r in zip(share, results))
    if not math.isfinite(loss):
        return loss
    theta[...] = sum(s * r[2].astype(np.float64) for s, r in zip(share, results))
    grad[...] = sum(s * r[3].astype(np.float64) for s, r in zip(share, results))
    matrices = [sum(s * r[4][0][a].astype(np.float64) for s, r in zip(share, results)).astype(theta.dtype)
                for a in range(len(results[0][4][0]))]
    scalars = sum(s * r[4][1] for s, r in zip(share, results))
    optimizer.restore((matrices, scalars, max(r[4][2] for r in results)))
    for active in (r[5] for r in results if r[5] is not None):  # a unit is dead if no chunk saw it active
        for depth, units in enumerate(active):
            network._note_active(depth, units[None, :])
    return loss


# ---- prediction -------------------------------------------------------------------------------------------


def map_rows(method, X, n_features, columns, dtype):
    """``method`` (a NumPy-in, NumPy-out prediction) applied to each row block of X, lazily: a Dask array of
    ``(n,)`` (``columns`` None) or ``(n, columns)`` values of ``dtype``.  Nothing is computed here: a DataFrame's
    rows are counted when the result is."""
    _, da = _import_dask()
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array()
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D Dask array or a Dask DataFrame, got {type(X).__name__} of shape "
                         f"{getattr(X, 'shape', None)}")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model is expecting {n_features} features as input.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if columns is None:
        return X.map_blocks(method, dtype=dtype, drop_axis=1)
    return X.map_blocks(method, dtype=dtype, chunks=(X.chunks[0], (columns,)))
