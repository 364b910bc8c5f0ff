"""Numba kernels: just-in-time compiled versions of :mod:`fastgd.backends.reference`.

Each public function is a thin wrapper (thread count, serial or parallel
dispatch) around private ``fastgd_njit(nogil=True)`` kernels (``@njit`` with
fastgd's per-user disk cache, see ``_cache.py``), compiled lazily on first use
for the dtypes seen.  The formulas are those of :mod:`fastgd.backends._spec`.

Implementation notes:

* Rows are split into contiguous chunks (``_threads``: one per requested
  thread, or a single serial chunk when the input is small).  Each chunk
  accumulates its own float64 partial sums, combined in chunk order
  afterwards, so results are deterministic for a given thread count and no
  array element is shared.
* The loss kernels walk a chunk in blocks of rows that stay in cache: first the
  block's logits (rows streamed from memory, with software prefetch ahead),
  then the per-sample terms in one vectorized loop, then the gradient
  contributions of the block's rows, four rows per pass over the gradient.
* ``exp`` and ``log1p`` are branch-free polynomials (:func:`_exp_nonpos`,
  :func:`_log1p_unit`) that LLVM vectorizes; both are within 2 ulp of NumPy's.
* Precision: per-sample math is float64 for both dtypes.  A row's dot product
  and a block's share of the gradient (at most ``_BLOCK`` rows) are formed in
  the dtype of ``X``, as BLAS does (for float32 this avoids converting every
  element, ~25% of the kernel's time); every sum across blocks and chunks is
  float64, so no float32 sum grows with ``n``.  Outputs take the input dtype.
* Only reductions use the ``reassoc`` fast-math flag; the elementwise math uses
  ``contract`` alone, so argument reductions are never re-associated, and no
  flag assumes finite values (the stable formulas rely on infinities).
"""

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from fastgd.backends.numba_backend._cache import fastgd_njit
from fastgd.backends.numba_backend._threads import chunk as _chunk
from fastgd.backends.numba_backend._threads import n_chunks_for as _n_chunks
from fastgd.backends.numba_backend._threads import run_parallel as _run_parallel

__all__ = ["sigmoid", "log1pexp", "linear_predict", "logistic_loss_grad", "squared_loss_grad", "softmax_loss_grad"]

_MATH = dict(nogil=True, error_model="numpy", fastmath={"contract"})
_SUM = dict(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
_PARALLEL = dict(nogil=True, parallel=True)

_BLOCK = 64  # rows per block in the loss kernels (at most _BLOCK_BYTES of X)
_BLOCK_BYTES = 1 << 16
_PREFETCH_BYTES = 1 << 14  # how far ahead of the current row X is prefetched

# exp: x = k ln2 + t with |t| <= ln2/2; fdlibm's two-part ln2 keeps k ln2 exact
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# log1p: fdlibm's minimax coefficients for log(1+f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f/(2+f)
_LP1, _LP2, _LP3, _LP4, _LP5, _LP6, _LP7 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_SQRT2_M1 = 0.41421356237309504880

_LOGISTIC = 0  # losses, as _spec.LOSS_CODES
_SQUARED = 1
_SIGMOID = 0  # elementwise kernels
_LOG1PEXP = 1


# ------------------------------------------------------------------------ math


@fastgd_njit(inline="always", **_MATH)
def _exp_nonpos(x):
    """``exp(x)`` for ``x <= 0`` (NaN stays NaN), branch-free, within 2 ulp.

    ``x = k ln2 + t``, ``k = round(x / ln2)``; ``exp(t)`` by its Taylor
    polynomial of degree 12 (``|t| <= 0.347``, truncation < 0.2 ulp); ``2^k``
    from exponent bits in two factors so that subnormal results round once and
    ``x < -745.2`` (clamped to -750) gives 0.
    """
    x = -750.0 if x < -750.0 else x
    k = np.int32(x * _INV_LN2 - 0.5)  # rounds to nearest for x <= 0
    kf = np.float64(k)
    t = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 479001600.0
    for c in (39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0):
        p = 1.0 / c + t * p
    k1 = k >> 1
    s1 = np.int64(np.int64(k1 + 1023) << 52).view(np.float64)
    s2 = np.int64(np.int64(k - k1 + 1023) << 52).view(np.float64)
    return p * s1 * s2


@fastgd_njit(inline="always", **_MATH)
def _log1p_unit(e):
    """``log1p(e)`` for ``e`` in [0, 1] (NaN stays NaN), branch-free, within 2 ulp.

    ``1 + e = 2^k (1 + f)`` with ``k = 0, f = e`` below ``sqrt(2) - 1`` and
    ``k = 1, f = (e - 1) / 2`` above (so ``1 + e`` is never rounded); then
    fdlibm's ``log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2)))``,
    ``s = f / (2 + f)``, plus ``k ln2``.
    """
    big = e >= _SQRT2_M1
    f = (e - 1.0) * 0.5 if big else e
    k = 1.0 if big else 0.0
    s = f / (2.0 + f)
    z = s * s
    r = z * (_LP1 + z * (_LP2 + z * (_LP3 + z * (_LP4 + z * (_LP5 + z * (_LP6 + z * _LP7))))))
    hfsq = 0.5 * f * f
    return k * _LN2_HI + ((f - (hfsq - s * (hfsq + r))) + k * _LN2_LO)


@fastgd_njit(inline="always", **_MATH)
def _terms(kind, z, y, m, loss, dz):
    """Per-sample loss and ``dl/dz`` for the logits ``z[:m]`` and labels ``y[:m]``.

    Logistic, ``e = exp(-|z|)`` (one exp per sample): ``z > 0``:
    ``l = log1p(e) + (1 - y) z``, ``dl/dz = ((1 - y) - y e) / (1 + e)``;
    ``z <= 0``: ``l = log1p(e) - y z``, ``dl/dz = ((1 - y) e - y) / (1 + e)``.
    Squared: ``l = (z - y)^2 / 2``, ``dl/dz = z - y``.
    """
    if kind == _LOGISTIC:
        for r in range(m):
            zr = z[r]
            yr = np.float64(y[r])
            e = _exp_nonpos(-abs(zr))
            pos = zr > 0
            loss[r] = _log1p_unit(e) + ((1.0 - yr) * zr if pos else -yr * zr)
            dz[r] = ((1.0 - yr) - yr * e if pos else (1.0 - yr) * e - yr) / (1.0 + e)
    else:
        for r in range(m):
            diff = z[r] - np.float64(y[r])
            loss[r] = 0.5 * diff * diff
            dz[r] = diff


# ------------------------------------------------------------------ row access


@intrinsic
def _prefetch(typingctx, X, i, j):
    """Hint the CPU to fetch the cache line of ``X[i, j]``; no effect on results."""

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        index = [context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], sig.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], array, index)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(X, i, j), codegen


if numba.config.DISABLE_JIT:  # pure-Python runs (coverage): an intrinsic cannot run

    def _prefetch(X, i, j):
        pass


@fastgd_njit(inline="always", **_SUM)
def _dot(X, i, w, ahead):
    """``sum_j X[i, j] w[j]`` in the dtype of ``X`` (``w`` has it too), after
    prefetching row ``ahead``."""
    for j in range(0, X.shape[1], 64 // X.itemsize):
        _prefetch(X, ahead, j)
    acc = X.dtype.type(0)
    for j in range(X.shape[1]):
        acc += X[i, j] * w[j]
    return np.float64(acc)


@fastgd_njit(inline="always", **_SUM)
def _add_rows(X, i0, m, c, g, block):
    """``g += sum_r c[r] X[i0 + r]`` over ``r < m``: the block's sum is formed in
    the dtype of ``X`` (``c`` and ``block`` have it), four rows per pass, then
    added to the float64 ``g``."""
    d = X.shape[1]
    block[:] = 0
    m4 = m - m % 4
    for r in range(0, m4, 4):
        i = i0 + r
        c0, c1, c2, c3 = c[r], c[r + 1], c[r + 2], c[r + 3]
        for j in range(d):
            block[j] += (c0 * X[i, j] + c1 * X[i + 1, j]) + (c2 * X[i + 2, j] + c3 * X[i + 3, j])
    for r in range(m4, m):
        cr = c[r]
        for j in range(d):
            block[j] += cr * X[i0 + r, j]
    for j in range(d):
        g[j] += block[j]


@fastgd_njit(inline="always", **_SUM)
def _rows_ahead(X):
    """Prefetch distance in rows of ``X``."""
    return max(1, _PREFETCH_BYTES // max(1, X.shape[1] * X.itemsize))


# ----------------------------------------------------------- chunk kernels


@fastgd_njit(**_MATH)
def _sigmoid_range(z, out, start, stop):
    """``out[i] = (1 if z_i >= 0 else e) / (1 + e)`` with ``e = exp(-|z_i|)``."""
    for i in range(start, stop):
        zi = np.float64(z[i])
        e = _exp_nonpos(-abs(zi))
        out[i] = (1.0 if zi >= 0 else e) / (1.0 + e)


@fastgd_njit(**_MATH)
def _log1pexp_range(z, out, start, stop):
    """``out[i] = max(z_i, 0) + log1p(exp(-|z_i|))``."""
    for i in range(start, stop):
        zi = np.float64(z[i])
        out[i] = (zi if zi > 0 else 0.0) + _log1p_unit(_exp_nonpos(-abs(zi)))


@fastgd_njit(**_SUM)
def _predict_range(X, w, b, out, start, stop):
    """``out[i] = sum_j X[i, j] w[j] + b`` for ``start <= i < stop``."""
    ahead = _rows_ahead(X)
    for i in range(start, stop):
        out[i] = _dot(X, i, w, min(i + ahead, stop - 1)) + b


@fastgd_njit(**_SUM)
def _loss_grad_range(kind, X, y, w, b, s, weighted, start, stop, g):
    """Sums over rows ``start:stop``: writes ``g = sum_i s_i dl/dz_i X[i]``
    (float64, overwritten) and returns ``(sum s l, sum s dl/dz, sum s)``.

    Sample weights are ``s`` if ``weighted`` else 1 (``s`` is then any array,
    e.g. ``y``, so that both cases share one compilation).  ``w`` has the
    dtype of ``X``.  Within a row (``z``) and a block of rows
    (its share of ``g``) arithmetic is in that dtype, as in BLAS; every sum
    across blocks, and the per-sample terms, are float64.
    """
    d = X.shape[1]
    rows = max(1, min(_BLOCK, _BLOCK_BYTES // max(1, d * X.itemsize)))
    ahead = _rows_ahead(X)
    z = np.empty(rows)
    loss = np.empty(rows)
    dz = np.empty(rows)
    coef = np.empty(rows, X.dtype)
    block = np.empty(d, X.dtype)
    g[:] = 0.0
    loss_sum = 0.0
    grad_b = 0.0
    weight = 0.0
    for i0 in range(start, stop, rows):
        m = min(rows, stop - i0)
        for r in range(m):
            z[r] = _dot(X, i0 + r, w, min(i0 + r + ahead, stop - 1)) + b
        _terms(kind, z, y[i0 : i0 + m], m, loss, dz)
        if weighted:
            s_block = s[i0 : i0 + m]
            for r in range(m):
                sr = np.float64(s_block[r])
                loss_sum += sr * loss[r]
                grad_b += sr * dz[r]
                coef[r] = sr * dz[r]
                weight += sr
        else:
            for r in range(m):
                loss_sum += loss[r]
                grad_b += dz[r]
                coef[r] = dz[r]
            weight += m
        _add_rows(X, i0, m, coef, g, block)
    return loss_sum, grad_b, weight


@fastgd_njit(**_SUM)
def _finish(partial, sums, grad_w):
    """Combine the chunks' partial sums in chunk order, write ``grad_w`` and
    return ``(loss, grad_b)``, the sample-weighted means."""
    n_chunks, d = partial.shape
    total = sums[0].copy()
    for c in range(1, n_chunks):
        total += sums[c]
    for j in range(d):
        acc = partial[0, j]
        for c in range(1, n_chunks):
            acc += partial[c, j]
        grad_w[j] = acc / total[2]
    return total[0] / total[2], total[1] / total[2]


@fastgd_njit(**_SUM)
def _softmax_range(X, y, W, b, s, weighted, start, stop, gW, gb):
    """Sums over rows ``start:stop``: writes ``gW = sum_i s_i x_i^T dl/dZ_i`` (float64 (d, k),
    overwritten) and ``gb = sum_i s_i dl/dZ_i`` (float64 (k,)); returns ``(sum s l, sum s)``.

    Per block of rows: ``Z = X_block W`` and ``gW += X_block^T G`` are matrix products in
    the dtype of ``X`` (BLAS through ``np.dot``); between them, per row, the stable
    log-sum-exp, the loss and ``G = s (softmax(z) - onehot(y))`` in float64.
    """
    d, k = W.shape
    rows = max(8, min(256, (1 << 17) // max(1, (d + k) * X.itemsize)))
    G = np.empty((rows, k), X.dtype)
    z = np.empty(k)
    gW[:, :] = 0.0
    gb[:] = 0.0
    loss_sum = 0.0
    weight = 0.0
    for i0 in range(start, stop, rows):
        m = min(rows, stop - i0)
        Xb = X[i0 : i0 + m]
        Z = np.dot(Xb, W)
        for r in range(m):
            top = -np.inf
            for c in range(k):
                z[c] = np.float64(Z[r, c]) + np.float64(b[c])
                top = max(top, z[c])
            label = np.intp(y[i0 + r])
            loss = top - z[label]  # + log(total) below: lse - z_label
            total = 0.0
            for c in range(k):  # z becomes exp(z - top): one exponential per logit
                z[c] = _exp_nonpos(z[c] - top)
                total += z[c]
            loss += np.log(total)
            sr = np.float64(s[i0 + r]) if weighted else 1.0
            loss_sum += sr * loss
            weight += sr
            for c in range(k):  # softmax = exp(z - top) / total
                g = sr * (z[c] / total - (1.0 if c == label else 0.0))
                G[r, c] = g
                gb[c] += g
        gW += np.dot(Xb.T, G[:m])
    return loss_sum, weight


# ------------------------------------------------- parallel whole inputs
# Serial calls go straight to the ``_range`` kernels: a jitted caller would
# re-optimize the kernel it links in, doubling the compile time.


@fastgd_njit(**_PARALLEL)
def _loss_grad_parallel(kind, X, y, w, b, s, weighted, partial, sums, n_chunks):
    for c in prange(n_chunks):
        lo, hi = _chunk(c, X.shape[0], n_chunks)
        sums[c, 0], sums[c, 1], sums[c, 2] = _loss_grad_range(kind, X, y, w, b, s, weighted, lo, hi, partial[c])


@fastgd_njit(**_PARALLEL)
def _softmax_parallel(X, y, W, b, s, weighted, gW, gb, sums, n_chunks):
    for c in prange(n_chunks):
        lo, hi = _chunk(c, X.shape[0], n_chunks)
        sums[c, 0], sums[c, 1] = _softmax_range(X, y, W, b, s, weighted, lo, hi, gW[c], gb[c])


@fastgd_njit(**_PARALLEL)
def _predict_parallel(X, w, b, out, n_chunks):
    for c in prange(n_chunks):
        lo, hi = _chunk(c, X.shape[0], n_chunks)
        _predict_range(X, w, b, out, lo, hi)


@fastgd_njit(**_PARALLEL)
def _elementwise_parallel(kind, z, out, n_chunks):
    """The elementwise kernel ``kind`` (``_SIGMOID`` or ``_LOG1PEXP``) in chunks."""
    for c in prange(n_chunks):
        lo, hi = _chunk(c, z.shape[0], n_chunks)
        if kind == _SIGMOID:
            _sigmoid_range(z, out, lo, hi)
        else:
            _log1pexp_range(z, out, lo, hi)


# ---------------------------------------------------------------- wrappers


def _elementwise(kind, z, out, n_threads):
    """``out = f(z)`` for the elementwise kernel ``kind``, serially or in chunks
    (an exp ~ 4 work units)."""
    n_chunks = _n_chunks(4 * z.shape[0], n_threads)
    if n_chunks == 1:
        (_sigmoid_range, _log1pexp_range)[kind](z, out, 0, z.shape[0])
    else:
        _run_parallel(_elementwise_parallel, n_chunks, kind, z, out)


def sigmoid(z, out, *, n_threads):
    """``out = 1/(1+exp(-z))``: ``1/(1+e)`` for z >= 0, ``e/(1+e)`` for z < 0, ``e = exp(-|z|)``."""
    _elementwise(_SIGMOID, z, out, n_threads)


def log1pexp(z, out, *, n_threads):
    """``out = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``."""
    _elementwise(_LOG1PEXP, z, out, n_threads)


def linear_predict(X, w, b, out, *, n_threads):
    """``out[i] = sum_j X[i, j] w[j] + b``, the sum in the dtype of ``X`` (as BLAS)."""
    w = np.asarray(w, dtype=X.dtype)
    n_chunks = _n_chunks(X.shape[0] * (X.shape[1] + 32), n_threads)
    if n_chunks == 1:
        _predict_range(X, w, float(b), out, 0, X.shape[0])
    else:
        _run_parallel(_predict_parallel, n_chunks, X, w, float(b), out)


def _loss_grad(kind, X, y, w, b, sample_weight, grad_w, n_threads):
    n, d = X.shape
    if n == 0:  # as the reference: NaN loss, zero gradient
        grad_w[:] = 0
        return float("nan"), 0.0
    w = np.asarray(w, dtype=X.dtype)
    weighted = sample_weight is not None
    s = sample_weight if weighted else y
    n_chunks = _n_chunks(n * (d + 32), n_threads)
    partial = np.empty((n_chunks, d))
    sums = np.empty((n_chunks, 3))
    if n_chunks == 1:
        sums[0] = _loss_grad_range(kind, X, y, w, float(b), s, weighted, 0, n, partial[0])
    else:
        _run_parallel(_loss_grad_parallel, n_chunks, kind, X, y, w, float(b), s, weighted, partial, sums)
    loss, grad_b = _finish(partial, sums, grad_w)
    return float(loss), float(grad_b)


def logistic_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Mean binary cross-entropy of ``z = X w + b`` and its gradient, one exp per sample.

    With ``e = exp(-|z|)``: for ``z > 0``, ``l = log1p(e) + (1 - y) z`` and
    ``dl/dz = ((1 - y) - y e) / (1 + e)``; for ``z <= 0``,
    ``l = log1p(e) - y z`` and ``dl/dz = ((1 - y) e - y) / (1 + e)``.  Writes
    ``grad_w = sum s dl/dz X / S`` and returns ``(sum s l / S, sum s dl/dz / S)``,
    ``S = sum s`` (``s = 1`` without sample weights).
    """
    return _loss_grad(_LOGISTIC, X, y, w, b, sample_weight, grad_w, n_threads)


def squared_loss_grad(X, y, w, b, sample_weight, grad_w, *, n_threads):
    """Mean of ``l = (z - y)^2 / 2``, ``z = X w + b``, and its gradient, ``dl/dz = z - y``.

    Writes ``grad_w = sum s (z - y) X / S`` and returns
    ``(sum s l / S, sum s (z - y) / S)``, ``S = sum s``.
    """
    return _loss_grad(_SQUARED, X, y, w, b, sample_weight, grad_w, n_threads)


def softmax_loss_grad(X, y, W, b, sample_weight, grad_W, grad_b, *, n_threads):
    """Mean softmax cross-entropy of ``Z = X W + b`` and its gradient: ``l = lse(z) - z_y``,
    ``dl/dz = softmax(z) - onehot(y)``; writes ``grad_W = sum s x^T dl/dz / S`` and
    ``grad_b = sum s dl/dz / S`` and returns ``sum s l / S``."""
    n, d = X.shape
    k = W.shape[1]
    weighted = sample_weight is not None
    s = sample_weight if weighted else y
    n_chunks = _n_chunks(n * (d + 32) * k, n_threads)
    gW, gb, sums = np.empty((n_chunks, d, k)), np.empty((n_chunks, k)), np.empty((n_chunks, 2))
    if n_chunks == 1:
        sums[0] = _softmax_range(X, y, W, b, s, weighted, 0, n, gW[0], gb[0])
    else:
        _run_parallel(_softmax_parallel, n_chunks, X, y, W, b, s, weighted, gW, gb, sums)
    total = sums.sum(axis=0)
    grad_W[...] = gW.sum(axis=0) / total[1]
    grad_b[...] = gb.sum(axis=0) / total[1]
    return float(total[0] / total[1])
