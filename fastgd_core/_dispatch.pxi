# Included by every extension module: the hooks fastgd_core.use_simd sets its kernels' instruction set with.

from fastgd_core._dispatch cimport fgd_isa_supported, fgd_set_isa


def _isa_supported(int isa):
    """Whether this module has variant ``isa`` (_dispatch.h's FGD_ISA_*) and the CPU can run it."""
    return bool(fgd_isa_supported(isa))


def _set_isa(int isa):
    """Run this module's kernels with variant ``isa``; ValueError when it is not supported."""
    if fgd_set_isa(isa) != 0:
        raise ValueError(f"instruction set variant {isa} is not supported here")
