"""Loss kernels of fastgd, compiled: the ``fastgd.backends._spec`` contract.

Arguments are typed memoryviews of one floating type (float32 or float64),
C-contiguous; inputs are ``const``, so read-only arrays and memmaps work.
Kernels neither validate nor allocate data-sized arrays, and release the GIL.

The work is in C (``_losses.h``): rows are split into a fixed number of
contiguous chunks, ``n_threads`` of them (one when the input is small: a
mini-batch runs serially), run on OpenMP threads (``_parallel.h``).  Each
chunk sums in float64 into its own partial sums, which are added in chunk
order at the end: the result is deterministic for a given ``n_threads``.
The per-row work is in ``_simd.h``: blocks of rows stay in cache while
``z = X w + b``, then the loss terms (vectorized exp/log1p), then the
gradient terms are computed, so each row of X is read from memory once.
"""

from cython cimport floating

from fastgd_core._losses cimport *

include "_dispatch.pxi"
from fastgd_core._dispatch cimport FGD_DISPATCH

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


def _build_info():
    """Facts fixed when this module was compiled (see ``fastgd_core.build_info``)."""
    return {
        "openmp": bool(fgd_openmp_enabled()),
        "simd": fgd_simd_variant().decode(),
        "dispatch": bool(FGD_DISPATCH),
        "compiler": FGD_COMPILER.decode(),
        "compile_args": FGD_COMPILE_ARGS.decode(),
    }


cdef inline const void *_data(const floating[::1] a) noexcept:
    """The data pointer of an optional array (NULL for None)."""
    if a is None:
        return NULL
    return &a[0]


cdef tuple _loss_grad(int loss, const floating[:, ::1] X, const floating[::1] y,
                      const floating[::1] w, double b, const floating[::1] sample_weight,
                      floating[::1] grad_w, int n_threads):
    """Weighted means of a loss and its gradient; see ``logistic_loss_grad``."""
    cdef double result[2]
    cdef int status
    cdef const void *sw = _data(sample_weight)
    with nogil:
        status = fgd_loss_grad(floating is float, loss, &X[0, 0], &y[0], sw, X.shape[0], X.shape[1], &w[0], b,
                               &grad_w[0], n_threads, result)
    if status != 0:
        raise MemoryError()
    return result[0], result[1]


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
    with nogil:
        fgd_linear_predict(floating is float, &X[0, 0], X.shape[0], X.shape[1], &w[0], b, &out[0], n_threads)


def sigmoid(const floating[::1] z, floating[::1] out, *, int n_threads):
    """Logistic function: ``out[i] = 1 / (1 + e)`` for ``z_i >= 0`` and
    ``e / (1 + e)`` for ``z_i < 0``, with ``e = exp(-|z_i|)``; ``out`` may be ``z``."""
    with nogil:
        fgd_elementwise(floating is float, FGD_SIGMOID, &z[0], &out[0], z.shape[0], n_threads)


def log1pexp(const floating[::1] z, floating[::1] out, *, int n_threads):
    """Softplus: ``out[i] = log(1 + exp(z_i)) = max(z_i, 0) + log1p(exp(-|z_i|))``;
    ``out`` may be ``z``."""
    with nogil:
        fgd_elementwise(floating is float, FGD_LOG1PEXP, &z[0], &out[0], z.shape[0], n_threads)
