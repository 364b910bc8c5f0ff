"""Compiled (Cython) kernels of fastgd; use them through ``fastgd``, not directly."""

from fastgd_core.losses import _build_info

__all__ = ["build_info", "openmp_enabled"]


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP (else ``prange`` is serial)."""
    return _build_info()["openmp"]


def build_info():
    """How the kernels were built and which SIMD variant runs in this process.

    Keys: ``openmp`` (bool), ``simd`` (the instruction set of the dispatched
    kernels), ``target_clones`` (bool: run-time CPU dispatch compiled in),
    ``compiler`` and ``compile_args``.
    """
    return _build_info()
