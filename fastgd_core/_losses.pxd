# The loss kernels of _losses.h (untyped arrays: is_float32 and void
# pointers; see _parallel.h) and the build facts of _simd.h, shared by
# losses.pyx and training.pyx.

from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

cdef extern from "_losses.h" nogil:
    enum:
        FGD_LOGISTIC
        FGD_SQUARED
        FGD_SIGMOID
        FGD_LOG1PEXP
    int fgd_openmp_enabled()
    const char *fgd_simd_variant()
    void fgd_loss_grad_rows(int is_float32, int loss, const void *X, const void *y, const void *sw, ptrdiff_t n,
                            ptrdiff_t d, const void *w, double b, double *grad, double *acc)
    ptrdiff_t fgd_part_stride(ptrdiff_t d)
    void fgd_gathered_loss_grad(int is_float32, int loss, const void *X, const void *y, const void *sw,
                                const int64_t *order, ptrdiff_t m, ptrdiff_t ahead, ptrdiff_t d, const void *w,
                                double b, void *Xb, void *yb, void *sb, double *part, ptrdiff_t stride, int chunks,
                                double *grad, double *acc)
    int fgd_loss_grad(int is_float32, int loss, const void *X, const void *y, const void *sw, ptrdiff_t n,
                      ptrdiff_t d, const void *w, double b, void *grad_w, int n_threads, double *result)
    void fgd_linear_predict(int is_float32, const void *X, ptrdiff_t n, ptrdiff_t d, const void *w, double b,
                            void *out, int n_threads)
    void fgd_elementwise(int is_float32, int kind, const void *z, void *out, ptrdiff_t n, int n_threads)
    ctypedef void (*fgd_chunk_fn)(void *job, int c, ptrdiff_t lo, ptrdiff_t hi) noexcept nogil
    int FGD_MIN_WORK
    int fgd_n_chunks(int n_threads, ptrdiff_t items, ptrdiff_t work, ptrdiff_t min_work)
    void fgd_run_chunks(fgd_chunk_fn run, void *job, ptrdiff_t n, int chunks)
    double fgd_exp_nonpos(double t)
    void fgd_softmax_block(int is_float32, const void *Z, const void *b, const void *y, const void *sw, ptrdiff_t m,
                           ptrdiff_t k, void *G, double *e, double *top, double *acc)
