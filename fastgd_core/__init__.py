"""Compiled (Cython) kernels of fastgd; use them through ``fastgd``, not directly.

Every kernel is compiled for several instruction sets (``SIMD_VARIANTS``) and
runs with the fastest one the CPU supports, unless the environment variable
``FASTGD_SIMD`` or :func:`use_simd` names another.
"""

import importlib
import os

from fastgd_core.losses import _build_info

__all__ = ["SIMD_VARIANTS", "build_info", "openmp_enabled", "simd", "simd_variants", "use_simd"]

#: The instruction-set variants of the kernels, slowest first (their index is
#: FGD_ISA_* of ``_dispatch.h``): "baseline" (the build's target, SSE2 on
#: x86-64), "avx2" (x86-64-v3: AVX2 + FMA), "avx512" (x86-64-v4: AVX-512,
#: 512-bit vectors).
SIMD_VARIANTS = ("baseline", "avx2", "avx512")

_KERNEL_MODULES = ("losses", "network", "optim", "softmax", "training")
_selected = None


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP (else ``prange`` is serial)."""
    return _build_info()["openmp"]


def build_info():
    """How the kernels were built and which SIMD variant runs in this process.

    Keys: ``openmp`` (bool), ``simd`` (the variant the kernels run with, and its
    instruction set), ``dispatch`` (bool: the kernels were compiled for every
    variant, chosen at run time), ``compiler`` and ``compile_args``.
    """
    return _build_info()


def _modules():
    return [importlib.import_module(f"fastgd_core.{name}") for name in _KERNEL_MODULES]


def simd_variants():
    """The variants of ``SIMD_VARIANTS`` this build has and this CPU can run, slowest first."""
    losses = importlib.import_module("fastgd_core.losses")
    return tuple(name for isa, name in enumerate(SIMD_VARIANTS) if losses._isa_supported(isa))


def simd():
    """The variant the kernels run with (one of ``SIMD_VARIANTS``)."""
    return _selected


def use_simd(variant=None):
    """Run every compiled kernel of this process with one instruction-set variant.

    Parameters
    ----------
    variant : {"baseline", "avx2", "avx512"} or None, default None
        The variant; None selects the fastest one of ``simd_variants()``.
        Call it while no kernel runs (it switches the kernels of every module).

    Returns
    -------
    str
        The variant now in use.

    Raises
    ------
    ValueError
        If ``variant`` is not a name of ``SIMD_VARIANTS``, or this build or
        CPU cannot run it (it would stop the process with an illegal
        instruction).
    """
    global _selected
    available = simd_variants()
    if variant is None:
        variant = available[-1]
    if variant not in SIMD_VARIANTS:
        raise ValueError(f"unknown SIMD variant {variant!r}; expected one of {SIMD_VARIANTS}")
    if variant not in available:
        raise ValueError(f"SIMD variant {variant!r} cannot run here: this build and CPU support {available}")
    for module in _modules():
        module._set_isa(SIMD_VARIANTS.index(variant))
    _selected = variant
    return variant


def _use_simd_from_environment():
    requested = os.environ.get("FASTGD_SIMD", "").strip().lower() or None
    try:
        use_simd(requested)
    except ValueError as error:
        raise ValueError(f"FASTGD_SIMD={requested!r}: {error}") from None


_use_simd_from_environment()
