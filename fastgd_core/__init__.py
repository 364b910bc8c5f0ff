"""Compiled (Cython) kernels of fastgd; use them through fastgd, not directly.

Every kernel is compiled for several instruction sets (SIMD_VARIANTS) and
runs with the fastest one the CPU supports, unless the environment variable
FASTGD_SIMD (read at import) or use_simd names another.  The public functions
here report and choose that variant; ``python -m fastgd info`` shows it too.

>>> import fastgd_core
>>> fastgd_core.simd() in fastgd_core.simd_variants()
True
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
    """Tell whether the kernels were compiled with OpenMP.

    Without OpenMP every kernel runs serially, whatever ``n_threads`` says.

    Returns
    -------
    bool
        True if the kernels can run on several threads.

    See Also
    --------
    build_info : Every detail of the build.

    Examples
    --------
    >>> import fastgd_core
    >>> fastgd_core.openmp_enabled() == fastgd_core.build_info()["openmp"]
    True
    """
    return _build_info()["openmp"]


def build_info():
    """Describe how the kernels were built and which SIMD variant runs in this process.

    Returns
    -------
    dict
        Keys: "openmp" (bool), "simd" (str: the variant the kernels run with
        and its instruction set, e.g. "avx2: x86-64-v3 (AVX2 + FMA)"),
        "dispatch" (bool: the kernels were compiled for every variant,
        chosen at run time), "compiler" and "compile_args" (str).

    See Also
    --------
    simd : The variant's name alone.
    openmp_enabled : Whether the kernels run threads.

    Examples
    --------
    >>> import fastgd_core
    >>> sorted(fastgd_core.build_info())
    ['compile_args', 'compiler', 'dispatch', 'openmp', 'simd']
    """
    return _build_info()


def _modules():
    return [importlib.import_module(f"fastgd_core.{name}") for name in _KERNEL_MODULES]


def simd_variants():
    """List the variants of SIMD_VARIANTS this build has and this CPU can run.

    Returns
    -------
    tuple of str
        The variants, slowest first; "baseline" is always there, and the
        last is the one chosen by default.

    See Also
    --------
    use_simd : Choose one of them.

    Examples
    --------
    >>> import fastgd_core
    >>> fastgd_core.simd_variants()[0]
    'baseline'
    """
    losses = importlib.import_module("fastgd_core.losses")
    return tuple(name for isa, name in enumerate(SIMD_VARIANTS) if losses._isa_supported(isa))


def simd():
    """Name the variant the kernels of this process run with.

    Returns
    -------
    str
        One of SIMD_VARIANTS: "baseline", "avx2" or "avx512".

    See Also
    --------
    use_simd : Change it.
    build_info : The variant with its instruction set, and the build.

    Examples
    --------
    >>> import fastgd_core
    >>> fastgd_core.simd() in fastgd_core.SIMD_VARIANTS
    True
    """
    return _selected


def use_simd(variant=None):
    """Run every compiled kernel of this process with one instruction-set variant.

    The variants compute the same formulas; wider vectors may change the
    last digits of sums (the order of additions differs).  The environment
    variable FASTGD_SIMD does the same at import.

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

    See Also
    --------
    simd_variants : The variants that can run here.
    simd : The variant in use.

    Examples
    --------
    >>> import fastgd_core
    >>> previous = fastgd_core.simd()
    >>> fastgd_core.use_simd("baseline")
    'baseline'
    >>> fastgd_core.use_simd(previous) == previous
    True
    >>> fastgd_core.use_simd() == fastgd_core.simd_variants()[-1]  # None: the fastest
    True
    >>> _ = fastgd_core.use_simd(previous)
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
