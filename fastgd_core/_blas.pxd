# Matrix products by BLAS (scipy's cython_blas), for row-major arrays of floats or doubles.

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void gemm(char transa, char transb, int M, int N, int K, const floating *A, int lda,
                      const floating *B, int ldb, floating beta, floating *C, int ldc) noexcept nogil:
    """Column-major ``C = op(A) op(B) + beta C`` (a row-major matrix is its transpose, column-major)."""
    cdef floating one = 1
    if floating is float:
        sgemm(&transa, &transb, &M, &N, &K, &one, <float *> A, &lda, <float *> B, &ldb, &beta, C, &ldc)
    else:
        dgemm(&transa, &transb, &M, &N, &K, &one, <double *> A, &lda, <double *> B, &ldb, &beta, C, &ldc)
