# The optimizer entry points of _optim.h (untyped arrays: is_float32 and void
# pointers; see _parallel.h), shared by optim.pyx and training.pyx.

from libc.stddef cimport ptrdiff_t

cdef extern from "_optim.h" nogil:
    void fgd_squared_norm(int is_float32, const void *g, ptrdiff_t n, double clip_value, int n_threads,
                          double *raw, double *clipped)
    double fgd_optimizer_update(int is_float32, int code, void *p, const void *g, void *state, ptrdiff_t stride,
                                ptrdiff_t n, const double *hyper, double t, double *scalars, double clip_value,
                                double grad_scale, int n_threads)
    double fgd_optimizer_update_in_chunks(int is_float32, int code, void *p, const void *g, void *state,
                                          ptrdiff_t stride, ptrdiff_t n, const double *hyper, double t,
                                          double *scalars, double clip_value, double grad_scale, int chunks)
