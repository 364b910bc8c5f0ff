"""Loss kernels of fastgd, compiled: the ``fastgd.backends._spec`` contract.

Arguments are typed memoryviews of one floating type (float32 or float64),
C-contiguous; inputs are ``const``, so read-only arrays and memmaps work.
Kernels neither validate nor allocate data-sized arrays, and release the GIL.

Rows are split into a fixed number of contiguous chunks, ``n_threads`` of
them (one when the input is small: a mini-batch runs serially), run by
``prange``.  Each chunk sums in float64 into its own partial sums, which are
added in chunk order at the end: the result is deterministic for a given
``n_threads``.  The per-row work is in ``_simd.h``: blocks of rows stay in
cache while ``z = X w + b``, then the loss terms (vectorized exp/log1p), then
the gradient terms are computed, so each row of X is read from memory once.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from fastgd_core._simd cimport *

cdef extern from *:
    """
    #define FGD_STR_(x) #x
    #define FGD_STR(x) FGD_STR_(x)
    #ifdef FASTGD_COMPILE_ARGS /* a string literal, set by setup.py */
    #  define FGD_COMPILE_ARGS FASTGD_COMPILE_ARGS
    #else
    #  define FGD_COMPILE_ARGS ""
    #endif
    #if defined(__clang__)
    #  define FGD_COMPILER "Clang " __clang_version__
    #elif defined(__GNUC__)
    #  define FGD_COMPILER "GCC " __VERSION__
    #elif defined(_MSC_VER)
    #  define FGD_COMPILER "MSVC " FGD_STR(_MSC_VER)
    #else
    #  define FGD_COMPILER "unknown"
    #endif
    """
    const char *FGD_COMPILE_ARGS
    const char *FGD_COMPILER

cdef enum:
    PARALLEL_MIN_WORK = 1 << 16  # elements (rows x max(d, 1)) below which one chunk runs
    SIGMOID = 0
    LOG1PEXP = 1


def _build_info():
    """Facts fixed when this module was compiled (see ``fastgd_core.build_info``)."""
    return {
        "openmp": bool(fgd_openmp_enabled()),
        "simd": fgd_simd_variant().decode(),
        "target_clones": bool(FGD_TARGET_CLONES),
        "compiler": FGD_COMPILER.decode(),
        "compile_args": FGD_COMPILE_ARGS.decode(),
    }


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n, Py_ssize_t work, int n_threads) noexcept nogil:
    """How many contiguous chunks of rows: ``n_threads``, or 1 for small work."""
    if n_threads <= 1 or work < PARALLEL_MIN_WORK:
        return 1
    return n_threads if n_threads < n else n


cdef inline double *_aligned(void *p) noexcept nogil:
    """``p`` rounded up to a 64-byte (cache line) boundary."""
    return <double *> ((<uintptr_t> p + 63) & ~(<uintptr_t> 63))


cdef tuple _loss_grad(int loss, const floating[:, ::1] X, const floating[::1] y,
                      const floating[::1] w, double b, const floating[::1] sample_weight,
                      floating[::1] grad_w, int n_threads):
    """Weighted means of a loss and its gradient; see ``logistic_loss_grad``."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], j, c, start, stop
    cdef Py_ssize_t n_chunks = _n_chunks(n, n * (d if d > 0 else 1), n_threads)
    cdef Py_ssize_t stride = (d + 3 + 7) // 8 * 8  # per chunk: loss, grad_b, weight, grad[d]; whole lines
    cdef const floating *Xp = &X[0, 0]
    cdef const floating *yp = &y[0]
    cdef const floating *wp = &w[0]
    cdef const floating *sw = NULL
    cdef const floating *swc
    cdef double *acc
    cdef double total_loss = 0.0, total_b = 0.0, total_weight = 0.0, g
    cdef void *scratch = malloc((n_chunks * stride + 8) * sizeof(double))
    if scratch == NULL:
        raise MemoryError()
    cdef double *part = _aligned(scratch)
    if sample_weight is not None:
        sw = &sample_weight[0]
    with nogil:
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
            start = c * n // n_chunks
            stop = (c + 1) * n // n_chunks
            acc = part + c * stride
            memset(acc, 0, stride * sizeof(double))
            swc = NULL
            if sw != NULL:
                swc = sw + start
            if floating is double:
                fgd_loss_grad_rows_d(loss, Xp + start * d, yp + start, swc, stop - start, d, wp, b,
                                     acc + 3, acc)
            else:
                fgd_loss_grad_rows_f(loss, Xp + start * d, yp + start, swc, stop - start, d, wp, b,
                                     acc + 3, acc)
        for c in range(n_chunks):
            total_loss += part[c * stride]
            total_b += part[c * stride + 1]
            total_weight += part[c * stride + 2]
        for j in range(d):
            g = 0.0
            for c in range(n_chunks):
                g += part[c * stride + 3 + j]
            grad_w[j] = <floating> (g / total_weight)
    free(scratch)
    return total_loss / total_weight, total_b / total_weight


def logistic_loss_grad(const floating[:, ::1] X, const floating[::1] y, const floating[::1] w,
                       double b, const floating[::1] sample_weight, floating[::1] grad_w,
                       *, int n_threads):
    """Mean binary cross-entropy of ``z = X w + b`` and its gradient.

    With labels ``y_i`` in {0, 1}, weights ``s_i`` (``sample_weight``, or all
    ones when None) and ``S = sum_i s_i``, one exponential per sample:

    * ``z_i <= 0``: ``e = exp(z_i)``, ``l_i = log1p(e) - y_i z_i``,
      ``dl/dz = ((1 - y_i) e - y_i) / (1 + e)``;
    * ``z_i > 0``: ``e = exp(-z_i)``, ``l_i = log1p(e) + (1 - y_i) z_i``,
      ``dl/dz = ((1 - y_i) - y_i e) / (1 + e)``.

    Writes ``grad_w = sum_i s_i dl/dz_i X[i] / S`` and returns
    ``(loss, grad_b) = (sum_i s_i l_i / S, sum_i s_i dl/dz_i / S)`` as floats.
    """
    return _loss_grad(FGD_LOGISTIC, X, y, w, b, sample_weight, grad_w, n_threads)


def squared_loss_grad(const floating[:, ::1] X, const floating[::1] y, const floating[::1] w,
                      double b, const floating[::1] sample_weight, floating[::1] grad_w,
                      *, int n_threads):
    """Mean half squared error of ``z = X w + b`` and its gradient.

    ``l_i = (z_i - y_i)^2 / 2`` and ``dl/dz = z_i - y_i``; with weights ``s_i``
    and ``S = sum_i s_i``, writes ``grad_w = sum_i s_i dl/dz_i X[i] / S`` and
    returns ``(loss, grad_b) = (sum_i s_i l_i / S, sum_i s_i dl/dz_i / S)``.
    """
    return _loss_grad(FGD_SQUARED, X, y, w, b, sample_weight, grad_w, n_threads)


def linear_predict(const floating[:, ::1] X, const floating[::1] w, double b, floating[::1] out,
                   *, int n_threads):
    """Linear predictor ``out[i] = sum_j X[i, j] w[j] + b``, summed in float64."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], c, start, stop
    cdef Py_ssize_t n_chunks = _n_chunks(n, n * (d if d > 0 else 1), n_threads)
    cdef const floating *Xp = &X[0, 0]
    cdef const floating *wp = &w[0]
    cdef floating *op = &out[0]
    with nogil:
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
            start = c * n // n_chunks
            stop = (c + 1) * n // n_chunks
            if floating is double:
                fgd_predict_rows_d(Xp + start * d, stop - start, d, wp, b, op + start)
            else:
                fgd_predict_rows_f(Xp + start * d, stop - start, d, wp, b, op + start)


cdef void _elementwise(int kind, const floating[::1] z, floating[::1] out, int n_threads) noexcept:
    """``out = f(z)`` for f = sigmoid or log1pexp, in ``n_threads`` chunks."""
    cdef Py_ssize_t n = z.shape[0], c, start, stop
    cdef Py_ssize_t n_chunks = _n_chunks(n, n * 8, n_threads)  # an exp and a log1p ~ 8 multiply-adds
    cdef const floating *zp = &z[0]
    cdef floating *op = &out[0]
    with nogil:
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
            start = c * n // n_chunks
            stop = (c + 1) * n // n_chunks
            if floating is double:
                if kind == SIGMOID:
                    fgd_sigmoid_array_d(zp + start, op + start, stop - start)
                else:
                    fgd_log1pexp_array_d(zp + start, op + start, stop - start)
            else:
                if kind == SIGMOID:
                    fgd_sigmoid_array_f(zp + start, op + start, stop - start)
                else:
                    fgd_log1pexp_array_f(zp + start, op + start, stop - start)


def sigmoid(const floating[::1] z, floating[::1] out, *, int n_threads):
    """Logistic function: ``out[i] = 1 / (1 + e)`` for ``z_i >= 0`` and
    ``e / (1 + e)`` for ``z_i < 0``, with ``e = exp(-|z_i|)``; ``out`` may be ``z``."""
    _elementwise(SIGMOID, z, out, n_threads)


def log1pexp(const floating[::1] z, floating[::1] out, *, int n_threads):
    """Softplus: ``out[i] = log(1 + exp(z_i)) = max(z_i, 0) + log1p(exp(-|z_i|))``;
    ``out`` may be ``z``."""
    _elementwise(LOG1PEXP, z, out, n_threads)
