"""The SIMD variants of the Cython kernels: chosen at import, forced by name, refused when the CPU lacks them.

Their results are held to the reference by every test using the ``compiled_backend``
fixture, which runs the Cython kernels once in each variant this CPU supports.
"""

import os

import numpy as np
import pytest

fastgd_core = pytest.importorskip("fastgd_core")

from fastgd_core import losses  # noqa: E402

ALL_VARIANTS = fastgd_core.SIMD_VARIANTS


def test_the_default_is_the_fastest_variant_the_cpu_runs():
    available = fastgd_core.simd_variants()
    assert available[0] == "baseline"
    assert list(available) == [v for v in ALL_VARIANTS if v in available]
    assert fastgd_core.simd() == (os.environ.get("FASTGD_SIMD") or available[-1])


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_each_variant_is_used_or_refused_by_name(variant):
    default = fastgd_core.simd()
    try:
        if variant in fastgd_core.simd_variants():
            assert fastgd_core.use_simd(variant) == variant
            assert fastgd_core.simd() == variant
            assert fastgd_core.build_info()["simd"].startswith(variant + ":")
        else:
            with pytest.raises(ValueError, match=f"{variant!r} cannot run here"):
                fastgd_core.use_simd(variant)
            assert fastgd_core.simd() == default
    finally:
        fastgd_core.use_simd(default)


def test_an_unknown_variant_is_refused_and_nothing_changes():
    default = fastgd_core.simd()
    with pytest.raises(ValueError, match="unknown SIMD variant 'sse9'"):
        fastgd_core.use_simd("sse9")
    assert fastgd_core.simd() == default


def test_every_variant_computes_the_same_loss_to_rounding():
    """A smoke check across variants in one process (the parity tests hold each to the reference)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1003, 37))
    y = (rng.random(1003) < 0.5) * 1.0
    w = rng.standard_normal(37) / 6
    default = fastgd_core.simd()
    results = {}
    try:
        for variant in fastgd_core.simd_variants():
            fastgd_core.use_simd(variant)
            grad = np.empty(37)
            loss, grad_b = losses.logistic_loss_grad(X, y, w, 0.1, None, grad, n_threads=1)
            results[variant] = np.concatenate([[loss, grad_b], grad])
    finally:
        fastgd_core.use_simd(default)
    for variant, result in results.items():
        np.testing.assert_allclose(result, results["baseline"], rtol=1e-12, atol=1e-14, err_msg=variant)


def test_fastgd_simd_environment_variable_forces_a_variant(run_python):
    code = "import fastgd_core; print(fastgd_core.simd(), fastgd_core.build_info()['simd'])"
    for variant in fastgd_core.simd_variants():
        done = run_python("-c", code, env={"FASTGD_SIMD": variant})
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == variant


def test_fastgd_simd_environment_variable_names_a_bad_value(run_python):
    done = run_python("-c", "import fastgd_core", env={"FASTGD_SIMD": "sse9"})
    assert done.returncode != 0
    assert "FASTGD_SIMD='sse9': unknown SIMD variant 'sse9'" in done.stderr
