"""The public API's docstrings: numpydoc sections complete, readable in ``help()``, and their examples run.

Every public class, function and method is validated with numpydoc's own checker
(the checks listed in ``REQUIRED``); every public module's examples run as doctests.
"""

import doctest
import glob
import importlib
import inspect
import os
import re

import pytest

import fastgd

numpydoc_validate = pytest.importorskip("numpydoc.validate")

PUBLIC_MODULES = [
    "fastgd",
    "fastgd.losses",
    "fastgd.optim",
    "fastgd.schedules",
    "fastgd.datasets",
    "fastgd.backends",
    "fastgd.linear_model",
    "fastgd.neural_network",
    "fastgd.plotting",
    "fastgd_core",
]

# numpydoc's check codes enforced for every public object.
REQUIRED = {
    "GL08",  # no docstring
    "SS01", "SS02", "SS03", "SS05",  # a one-line summary, capitalized, ending with a period, no "Returns ..." verb form
    "PR01", "PR02", "PR03",  # every parameter documented, none unknown, in the signature's order
    "PR06", "PR07", "PR08", "PR09",  # each with a plain type, a description, capitalized, ending with a period
    "RT01", "RT03",  # a Returns section where something is returned, described
    "SA01", "EX01",  # a See Also section and an example
}

ESTIMATOR_METHODS = ("fit", "partial_fit", "predict", "predict_proba", "predict_log_proba", "decision_function", "score")
OPTIMIZER_METHODS = ("step", "state_dict", "load_state_dict", "reset_state")


def _public_names(module):
    return [name for name in getattr(module, "__all__", []) if not name.startswith("_") and name[0].isalpha()]


def public_objects():
    """(qualified name, object) of every public class, function and method fastgd defines, each once."""
    seen = set()
    found = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not _ours(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            found.append((f"{obj.__module__}.{obj.__qualname__}", obj))
            for method_name, method in _public_methods(obj) if inspect.isclass(obj) else ():
                if id(method) not in seen:
                    seen.add(id(method))
                    found.append((f"{obj.__module__}.{obj.__qualname__}.{method_name}", method))
    return found


def _ours(obj):
    return (getattr(obj, "__module__", "") or "").split(".")[0] in ("fastgd", "fastgd_core")


def _public_methods(cls):
    """Public methods fastgd defines (not scikit-learn's or object's); inherited ones count once, where defined."""
    for name, member in inspect.getmembers(cls):
        function = getattr(member, "__func__", member)
        if not name.startswith("_") and inspect.isfunction(function) and _ours(function):
            yield name, function


OBJECTS = public_objects()


@pytest.mark.parametrize("qualname, obj", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_numpydoc_sections(qualname, obj):
    result = numpydoc_validate.validate(qualname)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code in REQUIRED]
    assert not errors, f"{qualname}:\n" + "\n".join(errors)


@pytest.mark.parametrize("qualname, obj", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_docstring_reads_as_plain_text(qualname, obj):
    """``help()`` shows the formulas as text: no raw LaTeX commands or :math: roles."""
    doc = inspect.getdoc(obj) or ""
    assert ":math:" not in doc, qualname
    assert not re.search(r"\\(frac|sqrt|sum|cdot|left|right|mathbf|operatorname|exp|log|alpha|beta|lambda)\b", doc), qualname


def test_the_listed_estimators_and_optimizers_are_covered():
    names = {name for name, _ in OBJECTS}
    for method in ESTIMATOR_METHODS:
        assert f"fastgd.linear_model.LogisticRegression.{method}" in names
    for method in OPTIMIZER_METHODS:
        assert f"fastgd.optim.SGD.{method}" in names


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_docstring_examples_run(module_name):
    if module_name == "fastgd.plotting":
        pytest.importorskip("matplotlib")
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, module_name) if t.examples]
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{module_name} has no examples"
    assert results.failed == 0, f"{results.failed} example(s) of {module_name} failed (see the output above)"



DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
GUIDE_PAGES = sorted(glob.glob(os.path.join(DOCS, "user_guide", "*.rst")))


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[os.path.basename(p) for p in GUIDE_PAGES])
def test_user_guide_examples_run(page):
    """The ``>>>`` examples of the user guide run as written (in the source tree; the wheel has no docs)."""
    try:
        results = doctest.testfile(page, module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        fastgd.set_backend(None)
    assert results.failed == 0, f"{results.failed} example(s) of {os.path.basename(page)} failed (see the output above)"
