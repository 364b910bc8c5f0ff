"""``python -m fastgd``: the demo and info commands run end to end."""

import fastgd


def test_info_lists_backends_and_versions(run_python):
    result = run_python("-m", "fastgd", "info")
    assert result.returncode == 0, result.stderr
    assert f"fastgd {fastgd.__version__}" in result.stdout
    assert "available backends (default order): " + ", ".join(fastgd.available_backends()) in result.stdout


def test_demo_on_a_small_problem_agrees_across_backends(run_python, tmp_path):
    plot = tmp_path / "curves.png"
    result = run_python("-m", "fastgd", "demo", "--n-samples", "2001", "--n-features", "7", "--repeat", "2",
                        "--dtype", "float32", "--epochs", "2", "--plot", str(plot))
    assert result.returncode == 0, result.stdout + result.stderr
    for backend in fastgd.available_backends():
        assert sum(line.startswith(backend + " ") for line in result.stdout.splitlines()) == 2
        assert f"L-BFGS ({backend})" in result.stdout and f"2 epochs ({backend})" in result.stdout
    assert "Every backend agrees with the NumPy reference." in result.stdout
    assert plot.stat().st_size > 1000


def test_demo_rejects_bad_arguments(run_python):
    result = run_python("-m", "fastgd", "demo", "--dtype", "float16")
    assert result.returncode == 2 and "invalid choice" in result.stderr
