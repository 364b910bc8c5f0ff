"""The shipped benchmark: the report's arithmetic, the memory measurement, the CLI end to end,
and the pytest-benchmark report script of a source checkout."""

import json
import os
import sys

import numpy as np
import pytest

import fastgd
from fastgd.benchmark import cases, measure, report
from fastgd.benchmark.measure import Record

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _record(group, implementation, seconds, family=None, kind="loss", bytes_moved=2_000_000_000):
    family = family or cases.family_of(implementation)
    return Record(kind, group, implementation, family, seconds, 5, bytes_moved)


def test_case_families_name_whose_code_runs():
    family = {c.implementation: c.family for c in cases.all_cases("small")}
    assert family["numpy"] == "reference" and family["cython"] == family["numba"] == "fastgd"
    assert family["X@w"] == family["numpy-user"] == "numpy"
    assert family["torch-fused"] == "torch" and family["sklearn SGDClassifier"] == "sklearn"
    assert family["sklearnex"] == "sklearnex" and family["X@W products"] == "numpy"


@pytest.mark.parametrize("needed", [1, 4, 5, 13, 200, 256])
def test_smallest_max_iter_finds_the_first_that_reaches(needed):
    tried = []

    def reaches(max_iter):
        tried.append(max_iter)
        return max_iter >= needed

    assert cases.smallest_max_iter(reaches, limit=256) == needed
    assert len(tried) <= 2 * 9  # doubling then bisection: logarithmic


def test_smallest_max_iter_stops_at_the_limit():
    assert cases.smallest_max_iter(lambda max_iter: False, limit=100) == 100


def test_fit_cases_know_the_size_of_their_X():
    for case in cases.fit_cases(cases.scale_sizes("small")):
        n = 20_000 // 5 if case.group.startswith("MLP") else 20_000
        itemsize = 8 if "float64" in case.group else 4
        assert case.data_bytes == n * 100 * itemsize, case.name


def test_every_group_holds_the_reference_and_both_compiled_backends():
    groups = {}
    for case in cases.all_cases("small"):
        groups.setdefault(case.group, set()).add(case.implementation)
    assert len(groups) == 4 + 2 + 14 + 4 + 2 + 2 + 2  # losses, softmax, optimizers, fits, gap fits binary and multinomial, MLP
    for implementations in groups.values():
        assert {"numpy", "cython", "numba"} <= implementations
    epoch_groups = [group for group in groups if group.startswith("one mini-batch Adam epoch")]
    assert all({"cython epoch kernel", "numba epoch kernel"} <= groups[group] for group in epoch_groups)
    gap_groups = [group for group in groups if "to gap" in group]
    assert len(gap_groups) == 4 and all({"sklearn", "sklearnex"} <= groups[group] for group in gap_groups)


def test_unknown_scale_and_kind_are_rejected():
    with pytest.raises(ValueError, match="scale must be one of"):
        cases.all_cases("huge")
    with pytest.raises(ValueError, match="unknown case kinds"):
        cases.all_cases("small", ["loss", "gpu"])


def test_table_gives_throughput_and_speedups_against_reference_and_fastest_peer():
    records = [_record("g", "numpy", 0.4), _record("g", "cython", 0.1), _record("g", "torch", 0.3),
               _record("g", "torch-fused", 0.2)]
    rows = {}
    for line in report.timing_table(records).splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[1]] = cells
    assert rows["cython"][2:6] == ["100.0 ms", "20.0", "4.00x", "2.00x"]  # 2 GB / 0.1 s; 0.4/0.1; fastest torch 0.2/0.1
    assert rows["numpy"][4:6] == ["1.00x", "0.50x"]


@pytest.mark.parametrize("seconds, text", [(3.2e-7, "0.32 µs"), (1.234e-5, "12.3 µs"), (4.56e-4, "456 µs"),
                                           (1.2345e-3, "1.23 ms"), (0.0813, "81.3 ms"), (0.1, "100.0 ms"),
                                           (9.6417, "9641.7 ms"), (10.44, "10.4 s"), (None, "-")])
def test_times_keep_three_significant_digits_at_any_scale(seconds, text):
    assert report.format_seconds(seconds) == text


def test_legend_explains_each_column_and_each_implementation_that_ran():
    records = [_record("g", "numpy", 0.4), _record("g", "cython", 0.1), _record("g", "numpy-user", 0.5),
               _record("h", "sklearn SGDClassifier", 0.3, kind="fit"), _record("h", "numpy", 0.2, kind="fit"),
               Record("fit", "h", "torch", "torch", None, skipped="torch is not installed")]
    records[3].extra = {"gap": 3e4, "n_iter": 1}
    text = report.legend(records)
    for column in ("**median**", "**GB/s**", "**x vs NumPy reference**", "**x vs scikit-learn**", "**result**"):
        assert column in text, column
    assert "PyTorch" not in text and "**allocated**" not in text  # torch only skipped; no memory table
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == {"cython", "numpy", "numpy-user", "sklearn SGDClassifier"}
    assert "| fastgd |" in rows["cython"] and "| NumPy reference |" in rows["numpy"]
    assert "plain NumPy" in rows["numpy-user"] and "temporary" in rows["numpy-user"]
    assert "one epoch" in rows["sklearn SGDClassifier"] and "not meant to reach the optimum" in rows["sklearn SGDClassifier"]


def test_legend_names_every_implementation_of_the_cases():
    implementations = {case.implementation for case in cases.all_cases("small", ["loss", "optimizer", "fit", "dask"])}
    assert all(report._implementation_note(name) for name in implementations), implementations
    assert set(cases.family_of(name) for name in implementations) <= set(report.FAMILY_TITLES)


def test_report_opens_with_its_legend_before_the_tables():
    text = report.markdown_report([_record("g", "numpy", 0.4), _record("g", "cython", 0.1)], level=2)
    assert text.index("### How to read this report") < text.index("### Fused loss + gradient")


def test_chart_draws_each_speedup_from_1_with_plain_ticks_and_value_labels(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [_record("g", "numpy", 0.4), _record("g", "cython", 0.1), _record("g", "torch", 0.8)]
    speedups = report._speedups(records)
    assert speedups == {"g": [("cython", 4.0), ("torch", 0.5)]}
    fig, ax = plt.subplots()
    report._speedup_panel(ax, speedups, "losses", (0.2, 10))
    fig.canvas.draw()
    spans = [(round(bar.get_x(), 9), round(bar.get_x() + bar.get_width(), 9)) for bar in ax.patches
             if isinstance(bar, matplotlib.patches.Rectangle) and bar.get_height() == 0.8]
    assert spans == [(1.0, 4.0), (1.0, 0.5)]  # a slow-down runs left of 1, a speed-up right of it
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.2", "0.5", "1", "2", "5", "10"]
    assert {text.get_text() for text in ax.texts} == {"4.0x", "0.50x"}
    plt.close(fig)
    machine = {"cpu": "Test CPU 9000", "usable cores": 2}
    path = report.save_chart(records, tmp_path / "chart.png", "fastgd benchmark (small scale)", machine)
    assert path and (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report._chart_title("fastgd benchmark (small scale)", machine).splitlines() == [
        "fastgd benchmark (small scale): speed-up over the NumPy reference", "Test CPU 9000, 2 cores"]


def test_compare_flags_only_cases_slower_than_the_threshold():
    old = [_record("g", "cython", 0.10), _record("g", "numba", 0.10), _record("h", "numba", 0.10)]
    new = [_record("g", "cython", 0.13), _record("g", "numba", 0.11), _record("x", "numba", 1.0)]
    table, regressions = report.compare(old, new, threshold=1.2)
    assert regressions == ["g [cython]"]
    assert "| g | cython | 100.0 ms | 130.0 ms | 1.30 | REGRESSION |" in table
    assert "| x |" not in table  # only in one run: nothing to compare


def test_update_readme_replaces_only_the_marked_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nold\n{report.README_END}\noutro\n")
    report.update_readme(readme, "new table")
    assert readme.read_text() == f"intro\n{report.README_START}\nnew table\n{report.README_END}\noutro\n"
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        report.update_readme(tmp_path / "plain.md", "x")


def test_peak_allocation_sees_a_copy_and_not_a_view():
    X = np.ones((2000, 1000))  # 16 MB
    copied, method = measure.peak_allocation(lambda: X.copy())
    viewed, _ = measure.peak_allocation(lambda: X[::2].sum())
    assert 0.9 * X.nbytes <= copied <= 1.3 * X.nbytes, (copied, method)
    assert viewed < 0.1 * X.nbytes, (viewed, method)


@pytest.mark.parametrize("epoch", [False, True], ids=["lbfgs", "adam-epoch"])
def test_fit_does_not_copy_X(backend, epoch):
    """A compiled fit allocates at most 10% of a float32 X, measured after a warm-up fit in a new process.

    The NumPy reference allocates n-sized temporaries (about 15% of X with 50
    features), but never a copy of X.  X is 80 MB: an epoch's permutation is 4%
    of it, and the fixed allocations (the runtime's, page granularity) stay well
    inside the budget (with 40 MB the Numba epoch measured 9.6-10.2%).
    """
    setup = f"""
import numpy as np, fastgd
from fastgd.benchmark import cases
X, y, _ = fastgd.datasets.make_classification(400_000, 50, dtype=np.float32, random_state=0)
fit = cases.make_fit({backend.name!r}, 1e-6, epoch={epoch})
"""
    peak, method, numpy_peak = measure.peak_allocation_in_new_process(setup, "fit(X, y)")
    x_bytes = 400_000 * 50 * 4
    limit = 0.5 if backend.name == "numpy" else 0.1
    assert peak <= limit * x_bytes, f"{peak / x_bytes:.1%} of X allocated ({method}; NumPy's part {numpy_peak / x_bytes:.1%})"


@pytest.mark.slow
def test_bench_command_writes_report_json_and_chart(run_python, tmp_path):
    out = tmp_path / "out"
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{report.README_START}\n{report.README_END}\n")
    result = run_python("-m", "fastgd", "bench", "--scale", "small", "--kinds", "loss", "fit", "memory",
                        "--min-time", "0.01", "--out", str(out), "--readme", str(readme))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = (out / "bench.md").read_text()
    for heading in ("Fused loss + gradient", "Training", "Memory a fit allocates"):
        assert heading in text
    for backend in fastgd.available_backends():
        assert f"| logistic loss+grad float32 20,000x100 | {backend} |" in text
    records = json.loads((out / "bench.json").read_text())["records"]
    memory = [r for r in records if r["kind"] == "memory" and r["family"] in ("fastgd", "reference")]
    assert memory and all(r["extra"]["peak_bytes"] > 0 for r in memory)
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Fused loss + gradient" in readme.read_text() and "](out/bench.png)" in readme.read_text()


def test_chart_is_skipped_when_nothing_was_timed(tmp_path):
    memory_only = [Record("memory", "g", "cython", "fastgd", None, extra={"peak_bytes": 1})]
    assert report.save_chart(memory_only, tmp_path / "chart.png") is None
    assert not (tmp_path / "chart.png").exists()


def test_bench_command_rejects_missing_readme(run_python, tmp_path):
    result = run_python("-m", "fastgd", "bench", "--readme", str(tmp_path / "missing.md"), "--out", str(tmp_path))
    assert result.returncode != 0 and "does not exist" in result.stderr


@pytest.fixture
def report_script():
    path = os.path.join(SOURCE, "benchmarks", "report.py")
    if not os.path.exists(path):
        pytest.skip("benchmarks/report.py is in the source tree only")
    sys.path.insert(0, os.path.dirname(path))
    try:
        import report as script
    finally:
        sys.path.pop(0)
    return script


def _saved_run(path, seconds):
    """A pytest-benchmark JSON as ``--benchmark-json`` writes it, with fastgd cases in extra_info."""
    benchmarks = [{"name": name, "stats": {"median": t, "rounds": 5},
                   "extra_info": {"kind": "loss", "group": "g", "implementation": name, "family": family,
                                  "bytes_moved": 10**9, "gap": 1e-9}}
                  for (name, family), t in zip([("numpy", "reference"), ("cython", "fastgd")], seconds)]
    path.write_text(json.dumps({"machine_info": {"fastgd": {"cpu": "test cpu"}}, "benchmarks": benchmarks}))
    return path


def test_report_script_renders_the_same_table_and_flags_regressions(report_script, tmp_path, capsys):
    old = _saved_run(tmp_path / "old.json", [0.4, 0.1])
    new = _saved_run(tmp_path / "new.json", [0.4, 0.2])
    assert report_script.main([str(new), "--compare", str(old), "--fail-on-regression"]) == 1
    text = capsys.readouterr().out
    assert "| g | cython | 200.0 ms | 5.0 | 2.00x | gap 1.0e-09 |" in text
    assert "1 regression(s): g [cython]" in text and "test cpu" in text
    assert report_script.main([str(new), "--compare", str(old)]) == 0  # flagged, not failing
    with pytest.raises(SystemExit, match="no fastgd benchmark cases"):
        report_script.main([str(_write(tmp_path / "empty.json", {"benchmarks": []}))])


def _write(path, data):
    path.write_text(json.dumps(data))
    return path
