"""The backend contract and registry: same kernels, same signatures, clear choices."""

import inspect
import sys

import pytest

import fastgd
from fastgd.backends import BACKEND_ORDER, _spec, reference


def _parameters(function):
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("kernel_name", _spec.KERNELS)
def test_backend_implements_the_spec(backend, kernel_name):
    """Every backend has every kernel with the _spec's parameter names, kinds and defaults (none)."""
    kernel = getattr(backend, kernel_name)
    assert _parameters(kernel) == _parameters(getattr(_spec, kernel_name))


def test_a_backend_missing_a_kernel_is_an_error_not_a_skip(monkeypatch):
    """A backend module that imports but lacks a kernel breaks the contract: loading it raises."""
    import types

    from fastgd import backends

    broken = types.ModuleType("fastgd_broken_backend")
    for kernel_name in _spec.KERNELS[:-1]:
        setattr(broken, kernel_name, getattr(reference, kernel_name))
    monkeypatch.setitem(sys.modules, "fastgd_broken_backend", broken)
    monkeypatch.setitem(backends._MODULES, "numba", "fastgd_broken_backend")
    monkeypatch.setattr(backends, "_loaded", {})
    monkeypatch.setattr(backends, "_errors", {})
    with pytest.raises(RuntimeError, match=f"lacks \\['{_spec.KERNELS[-1]}'\\]"):
        backends.get_backend("numba")


def test_backend_namespace_is_exactly_the_spec(backend):
    assert set(vars(backend)) == set(_spec.KERNELS) | {"name"}


def test_every_spec_kernel_documents_its_formula():
    for kernel_name in _spec.KERNELS:
        assert "=" in getattr(_spec, kernel_name).__doc__, kernel_name


def test_reference_is_always_available():
    assert "numpy" in fastgd.available_backends()
    assert fastgd.backends.raw_kernels("numpy").logistic_loss_grad is reference.logistic_loss_grad


def test_available_backends_keep_the_default_order():
    available = fastgd.available_backends()
    assert available == [name for name in BACKEND_ORDER if name in available]
    for name in set(BACKEND_ORDER) - set(available):
        assert name in fastgd.backend_errors()


def test_set_backend_and_reset():
    try:
        fastgd.set_backend("numpy")
        assert fastgd.get_backend().name == "numpy"
    finally:
        fastgd.set_backend(None)
    assert fastgd.get_backend().name == fastgd.available_backends()[0]


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        fastgd.set_backend("gpu")
    with pytest.raises(ValueError, match="unknown backend"):
        fastgd.get_backend(3)


def test_environment_variable_chooses_the_backend(monkeypatch):
    monkeypatch.setenv("FASTGD_BACKEND", "numpy")
    assert fastgd.get_backend().name == "numpy"
    monkeypatch.setenv("FASTGD_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="unknown backend 'nonsense'"):
        fastgd.get_backend()


def test_import_is_lazy(run_python):
    """``import fastgd`` loads no compiled backend and neither Numba nor scikit-learn."""
    code = "import sys, fastgd; print(sorted(m for m in ('numba', 'sklearn', 'fastgd_core', 'scipy') if m in sys.modules))"
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert output.strip() == "[]"
