# The run-time choice of instruction set of _dispatch.h, shared by every
# extension module (each has its own selection; see fastgd_core.use_simd).

cdef extern from "_dispatch.h" nogil:
    int FGD_DISPATCH
    int fgd_isa_supported(int isa)
    int fgd_set_isa(int isa)
