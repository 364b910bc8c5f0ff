# The fused optimizer loops of _optim.h (one parameter array, elements [0, n)),
# shared by optim.pyx and training.pyx.  Each returns the raw gradient's sum of
# squares; optional buffers are NULL.

cdef extern from "_optim.h" nogil:
    void fgd_squared_norm_d(const double *g, Py_ssize_t n, double clip_value, double *raw, double *clipped)
    void fgd_squared_norm_f(const float *g, Py_ssize_t n, double clip_value, double *raw, double *clipped)
    double fgd_sgd_d(double *p, const double *g, double *buf, Py_ssize_t n, double lr, double momentum,
                     double dampening, double weight_decay, double nesterov, int first_step,
                     double clip_value, double grad_scale)
    double fgd_sgd_f(float *p, const float *g, float *buf, Py_ssize_t n, double lr, double momentum,
                     double dampening, double weight_decay, double nesterov, int first_step,
                     double clip_value, double grad_scale)
    double fgd_adagrad_d(double *p, const double *g, double *s, Py_ssize_t n, double clr,
                         double weight_decay, double eps, double clip_value, double grad_scale)
    double fgd_adagrad_f(float *p, const float *g, float *s, Py_ssize_t n, double clr,
                         double weight_decay, double eps, double clip_value, double grad_scale)
    double fgd_rmsprop_d(double *p, const double *g, double *v, double *buf, double *m, Py_ssize_t n,
                         double lr, double alpha, double eps, double weight_decay, double momentum,
                         double clip_value, double grad_scale)
    double fgd_rmsprop_f(float *p, const float *g, float *v, float *buf, float *m, Py_ssize_t n,
                         double lr, double alpha, double eps, double weight_decay, double momentum,
                         double clip_value, double grad_scale)
    double fgd_adam_d(double *p, const double *g, double *m, double *v, double *vmax, Py_ssize_t n,
                      double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled,
                      double step, double clip_value, double grad_scale)
    double fgd_adam_f(float *p, const float *g, float *m, float *v, float *vmax, Py_ssize_t n,
                      double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled,
                      double step, double clip_value, double grad_scale)
