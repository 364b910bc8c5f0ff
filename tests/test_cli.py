"""``python -m fastgd``: the demo and info commands run end to end."""

import subprocess
import sys

import fastgd


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fastgd", *args], capture_output=True, text=True, timeout=600)


def test_info_lists_backends_and_versions():
    result = _run("info")
    assert result.returncode == 0, result.stderr
    assert f"fastgd {fastgd.__version__}" in result.stdout
    assert "available backends (default order): " + ", ".join(fastgd.available_backends()) in result.stdout


def test_demo_on_a_small_problem_agrees_across_backends():
    result = _run("demo", "--n-samples", "2001", "--n-features", "7", "--repeat", "2", "--dtype", "float32")
    assert result.returncode == 0, result.stdout + result.stderr
    for backend in fastgd.available_backends():
        assert sum(line.startswith(backend + " ") for line in result.stdout.splitlines()) == 2
    assert "Every backend agrees with the NumPy reference." in result.stdout


def test_demo_rejects_bad_arguments():
    result = _run("demo", "--dtype", "float16")
    assert result.returncode == 2 and "invalid choice" in result.stderr
