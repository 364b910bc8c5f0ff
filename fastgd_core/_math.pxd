# Scalar nogil helpers of fastgd_core.
#
# sigmoid, log1pexp and logistic_term are the branch-free C functions of
# _simd.h: the very code that the vectorized kernels inline, so a scalar loop
# and a block kernel agree bit for bit.  Every one is NaN-propagating and
# overflow-free; exp/log1p are accurate to ~1 ulp.

cdef extern from "_simd.h" nogil:
    # exp(t) for t <= 0; 0 below -745.2.
    double exp_nonpos "fgd_exp_nonpos"(double t)
    # log1p(e) for e in [0, 1].
    double log1p_unit "fgd_log1p_unit"(double e)
    # 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0, with e = exp(-|z|).
    double sigmoid "fgd_sigmoid"(double z)
    # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)).
    double log1pexp "fgd_log1pexp"(double z)
    # Binary cross-entropy l(z, y), returned, and dl/dz, stored in dz; one exp:
    # z <= 0: e = exp(z),  l = log1p(e) - y z,       dl/dz = ((1 - y) e - y) / (1 + e);
    # z > 0:  e = exp(-z), l = log1p(e) + (1 - y) z, dl/dz = ((1 - y) - y e) / (1 + e).
    double logistic_term "fgd_logistic_term"(double z, double y, double *dz)


cdef inline double clamp(double x, double lo, double hi) noexcept nogil:
    """``x`` clipped to ``[lo, hi]``; NaN stays NaN."""
    return lo if x < lo else (hi if x > hi else x)
