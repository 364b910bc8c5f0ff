"""Softmax cross-entropy of fastgd, compiled: ``_spec.softmax_loss_grad``.

Rows are split into chunks (``_parallel.h``: a fixed number for a given
``n_threads``, each with its own float64 partial sums, added in chunk order).
A chunk walks its rows in blocks that stay in cache: ``Z = X_block W`` by BLAS
(``scipy.linalg.cython_blas``), then per row the stable log-sum-exp, the loss
and ``G = s (softmax(z) - onehot(y))`` in float64 (written over ``Z``; ``_simd_rows.h``:
the block's exponentials in one vectorized pass), then the
block's gradient ``X_block^T G`` by BLAS, added to the chunk's float64 sums:
each row of X is read from memory once.
"""

from cython cimport floating
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport calloc, free, malloc

from fastgd_core._blas cimport gemm
from fastgd_core._losses cimport FGD_MIN_WORK, fgd_n_chunks, fgd_run_chunks, fgd_softmax_block

include "_dispatch.pxi"

cdef enum:
    BLOCK_ROWS = 256


ctypedef struct SoftmaxJob:
    int is_float32
    const void *X
    const void *y
    const void *sw  # NULL: unit weights
    const void *W
    const void *b
    ptrdiff_t d, k
    double *partial  # per chunk, at partial + c * stride: loss, weight, grad_b (k), grad_W (d k)
    ptrdiff_t stride
    int failed


cdef int _softmax_rows(const floating *X, const floating *y, const floating *sw, const floating *W,
                       const floating *b, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d, ptrdiff_t k,
                       double *acc) noexcept nogil:
    """Add the sums of rows [lo, hi) to ``acc`` (loss, weight, grad_b, grad_W); -1 without memory."""
    cdef floating *Z = <floating *> malloc(BLOCK_ROWS * k * sizeof(floating))
    cdef floating *block = <floating *> malloc((d * k if d > 0 else 1) * sizeof(floating))
    cdef double *e = <double *> malloc(BLOCK_ROWS * (k + 1) * sizeof(double))
    cdef ptrdiff_t i0 = lo, m, j
    if Z == NULL or block == NULL or e == NULL:
        free(Z); free(block); free(e)
        return -1
    while i0 < hi:
        m = BLOCK_ROWS if hi - i0 > BLOCK_ROWS else hi - i0
        # Z (m x k, row-major) = X_block W, i.e. column-major Z^T = W^T X_block^T
        gemm(c'N', c'N', <int> k, <int> m, <int> d, W, <int> k, X + i0 * d, <int> (d if d > 0 else 1), 0, Z, <int> k)
        # the loss and G = s (softmax - onehot), written over Z
        fgd_softmax_block(floating is float, Z, b, y + i0, NULL if sw == NULL else sw + i0, m, k, Z, e,
                          e + BLOCK_ROWS * k, acc)
        if d > 0:  # block (d x k, row-major) = X_block^T G, i.e. column-major block^T = G^T X_block
            gemm(c'N', c'T', <int> k, <int> d, <int> m, Z, <int> k, X + i0 * d, <int> d, 0, block, <int> k)
            for j in range(d * k):
                acc[2 + k + j] += block[j]
        i0 += m
    free(Z); free(block); free(e)
    return 0


cdef void _softmax_chunk(void *job_, int c, ptrdiff_t lo, ptrdiff_t hi) noexcept nogil:
    cdef SoftmaxJob *job = <SoftmaxJob *> job_
    cdef double *acc = job.partial + c * job.stride
    cdef int status
    if job.is_float32:
        status = _softmax_rows(<const float *> job.X, <const float *> job.y, <const float *> job.sw,
                               <const float *> job.W, <const float *> job.b, lo, hi, job.d, job.k, acc)
    else:
        status = _softmax_rows(<const double *> job.X, <const double *> job.y, <const double *> job.sw,
                               <const double *> job.W, <const double *> job.b, lo, hi, job.d, job.k, acc)
    if status != 0:
        job.failed = 1


def softmax_loss_grad(const floating[:, ::1] X, const floating[::1] y, const floating[:, ::1] W,
                      const floating[::1] b, const floating[::1] sample_weight, floating[:, ::1] grad_W,
                      floating[::1] grad_b, *, int n_threads):
    """Mean softmax cross-entropy of ``Z = X W + b`` and its gradient: with the stable
    ``lse = max(z) + log(sum_c exp(z_c - max(z)))``, ``l_i = lse_i - Z_{i, y_i}`` and
    ``dl/dZ_ic = exp(Z_ic - lse_i) - [c == y_i]``; writes ``grad_W = sum_i s_i x_i^T dl/dZ_i / S``
    and ``grad_b = sum_i s_i dl/dZ_i / S`` and returns ``sum_i s_i l_i / S``."""
    cdef ptrdiff_t n = X.shape[0], d = X.shape[1], k = W.shape[1], j, c
    cdef int chunks = fgd_n_chunks(n_threads, n, n * (d + 8) * k, FGD_MIN_WORK)
    cdef SoftmaxJob job
    cdef double loss = 0.0, weight = 0.0, value
    job.is_float32 = floating is float
    job.X, job.y, job.W, job.b = &X[0, 0], &y[0], &W[0, 0], &b[0]
    job.sw = NULL if sample_weight is None else <const void *> &sample_weight[0]
    job.d, job.k, job.failed = d, k, 0
    job.stride = (2 + k + d * k + 7) // 8 * 8  # whole cache lines per chunk
    job.partial = <double *> calloc(chunks * job.stride, sizeof(double))
    if job.partial == NULL:
        raise MemoryError()
    with nogil:
        fgd_run_chunks(_softmax_chunk, &job, n, chunks)
        for c in range(chunks):
            loss += job.partial[c * job.stride]
            weight += job.partial[c * job.stride + 1]
        for j in range(k + d * k):
            value = 0.0
            for c in range(chunks):
                value += job.partial[c * job.stride + 2 + j]
            if j < k:
                grad_b[j] = <floating> (value / weight)
            else:
                grad_W[(j - k) // k, (j - k) % k] = <floating> (value / weight)
    free(job.partial)
    if job.failed:
        raise MemoryError()
    return loss / weight
