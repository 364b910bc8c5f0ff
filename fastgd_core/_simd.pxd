# The C kernels of _simd.h (row blocks, elementwise math, build facts), shared
# by losses.pyx and training.pyx.

from libc.stddef cimport ptrdiff_t

cdef extern from "_simd.h" nogil:
    enum:
        FGD_LOGISTIC
        FGD_SQUARED
    int fgd_openmp_enabled()
    const char *fgd_simd_variant()
    int FGD_TARGET_CLONES
    void fgd_loss_grad_rows_d(int loss, const double *X, const double *y, const double *sw,
                              ptrdiff_t n, ptrdiff_t d, const double *w, double b,
                              double *grad, double *acc)
    void fgd_loss_grad_rows_f(int loss, const float *X, const float *y, const float *sw,
                              ptrdiff_t n, ptrdiff_t d, const float *w, double b,
                              double *grad, double *acc)
    void fgd_predict_rows_d(const double *X, ptrdiff_t n, ptrdiff_t d, const double *w, double b,
                            double *out)
    void fgd_predict_rows_f(const float *X, ptrdiff_t n, ptrdiff_t d, const float *w, double b,
                            float *out)
    void fgd_sigmoid_array_d(const double *z, double *out, ptrdiff_t n)
    void fgd_sigmoid_array_f(const float *z, float *out, ptrdiff_t n)
    void fgd_log1pexp_array_d(const double *z, double *out, ptrdiff_t n)
    void fgd_log1pexp_array_f(const float *z, float *out, ptrdiff_t n)
