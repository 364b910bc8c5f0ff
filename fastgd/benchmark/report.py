"""Turning records into the report: markdown tables, a PNG chart, and the comparison of two runs.

The tables are the same whether the records come from ``python -m fastgd
bench`` or from a saved pytest-benchmark JSON (``benchmarks/report.py``).
Speed-ups are ratios of medians measured in the same run: "x vs NumPy
reference" is ``t(reference) / t``, "x vs PyTorch" and "x vs scikit-learn" are
``t(fastest of that peer in the group) / t``; above 1 means faster.  Each
report carries its legend (:func:`legend`): the columns it shows and what each
implementation that ran is.
"""

import os
import platform
from collections import defaultdict

from fastgd.benchmark import cases
from fastgd.benchmark.measure import Record

PEERS = {"torch": "PyTorch", "sklearn": "scikit-learn", "sklearnex": "scikit-learn-intelex", "dask_ml": "dask-ml"}
KIND_TITLES = {
    "loss": "Fused loss + gradient (one pass over X)",
    "optimizer": "One optimizer step",
    "fit": "Training",
    "dask": "Training on Dask (a local cluster)",
    "memory": "Memory a fit allocates (after a warm-up fit)",
}


def records_from_dicts(rows):
    return [Record(**row) for row in rows]


def _best(records, family):
    times = [r.seconds for r in records if r.family == family and r.seconds]
    return min(times) if times else None


def _ratio(base, seconds):
    return f"{base / seconds:.2f}x" if base and seconds else "-"


def format_seconds(seconds, digits=3):
    """``seconds`` in µs, ms or s to ``digits`` significant digits, ms and s with at least one decimal:
    "0.32 µs", "538 µs", "1.23 ms", "81.3 ms", "1314.5 ms", "10.4 s"; "-" for None."""
    if seconds is None:
        return "-"
    if seconds >= 10:
        value, unit = seconds, "s"
    else:
        value, unit = (seconds * 1e3, "ms") if seconds >= 1e-3 else (seconds * 1e6, "µs")
    integer_digits = len(str(int(value))) if value >= 1 else 1
    decimals = max(0 if unit == "µs" else 1, digits - integer_digits)
    return f"{value:.{decimals}f} {unit}"


def _fmt_extra(extra):
    parts = []
    if "gap" in extra:
        parts.append(f"gap {extra['gap']:.1e}")
    if "n_iter" in extra:
        parts.append(f"{extra['n_iter']} iter")
    if "max_iter" in extra:
        parts.append(f"max_iter {extra['max_iter']}")
    return ", ".join(parts)


def _groups(records):
    grouped = defaultdict(list)
    for record in records:
        grouped[record.group].append(record)
    return grouped


def timing_table(records):
    """One markdown table of timed records: a row per (group, implementation) that ran."""
    timed = [r for r in records if r.seconds is not None]
    peers = [family for family in PEERS if any(r.family == family for r in timed)]
    show_notes = any(r.extra for r in timed)
    header = ["case", "implementation", "median", "GB/s", "x vs NumPy reference"]
    header += [f"x vs {PEERS[p]}" for p in peers] + (["result"] if show_notes else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group, rows in _groups(timed).items():
        bases = [_best(rows, family) for family in ("reference", *peers)]
        for record in rows:
            gb = record.gb_per_s
            cells = [group, record.implementation, format_seconds(record.seconds), f"{gb:.1f}" if gb else "-"]
            cells += [_ratio(base, record.seconds) for base in bases]
            cells += [_fmt_extra(record.extra)] if show_notes else []
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_table(records):
    lines = ["| case | implementation | allocated | share of X | measured as |", "|---|---|---|---|---|"]
    for r in records:
        if r.skipped:
            continue
        e = r.extra
        lines.append(f"| {r.group} | {r.implementation} | {e['peak_bytes'] / 1e6:.1f} MB | {100 * e['fraction_of_x']:.1f}% "
                     f"| {e['method']} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the legend

COLUMN_NOTES = {
    "median": "the median wall time of the timed rounds, after an untimed warm-up call (JIT compilation, cache "
              "loading and first-touch costs are not timed)",
    "GB/s": "throughput: the least traffic the operation needs (each array read or written once) over the median; "
            "\"-\" where the number of passes over X is not fixed (L-BFGS fits)",
    "x vs NumPy reference": "t(NumPy reference) / t(this row): above 1 is faster than fastgd's NumPy reference "
                            "backend, below 1 slower; \"-\" where the case has no reference row",
    "x vs peer": "t(fastest row of that peer in the case) / t(this row): the peer's best row reads 1.00x, above 1 is "
                 "faster than it; \"-\" where that peer did not run the case",
    "result": "what the run reached: \"gap\" is the relative objective gap (L − L*)/|L*|, with L = mean log-loss "
              "(softmax cross-entropy for k classes) + alpha/2·‖w‖² at the fitted coefficients and L* its optimum (a tight float64 L-BFGS solve), both "
              "in float64; \"iter\" the iterations (epochs) the fit ran; \"max_iter\" the smallest max_iter that "
              "reaches the target gap with tol=0, the fit that is timed (\"default\": the solver's own max_iter and "
              "tol, which do not reach it, so its time is a lower bound)",
    "allocated": "the peak memory a fit allocates on top of what is in use, after a warm-up fit",
    "share of X": "allocated / the size of X: a copy of X would be 100%",
    "measured as": "\"peak resident set growth\" counts every allocation (Linux); \"tracemalloc peak\" only "
                   "Python's and NumPy's",
}

# Whose code runs, in report order: the family's title and what its implementations are.
FAMILY_TITLES = {
    "fastgd": "fastgd",
    "reference": "NumPy reference",
    "numpy": "plain NumPy (not fastgd)",
    "torch": "PyTorch",
    "sklearn": "scikit-learn",
    "sklearnex": "scikit-learn-intelex",
    "dask_ml": "dask-ml",
    "dask": "Dask",
}
IMPLEMENTATION_NOTES = {
    "cython": "kernels compiled ahead of time (Cython and C, fastgd_core)",
    "numba": "kernels compiled just in time by Numba (cached on disk)",
    f"cython {cases.EPOCH_KERNEL}": "the compiled mini-batch epoch alone, without what fit adds (validation, labels, "
                                    "the permutation, diagnostics)",
    "cython dask": "the same L-BFGS fit on the Dask arrays, the kernels running on the workers",
    cases.REFERENCE: "fastgd's pure NumPy backend, formula by formula: the oracle the compiled backends are tested "
                     "against, and the 1.00x of the \"x vs NumPy reference\" column",
    "X@w": "one BLAS product X @ w, a single read of X: the floor of any pass over X",
    cases.FLOOR: "the two BLAS products a softmax loss+gradient cannot avoid",
    cases.MLP_FLOOR: "an MLP epoch's matrix products alone, batch by batch",
    "numpy-user": "the optimizer update written in plain NumPy as a user would, one temporary array per operation",
    "torch": "on CPU tensors: the binary losses' gradient written by hand, autograd elsewhere, torch.optim's "
             "default (not fused) optimizers",
    "torch-fused": "torch.optim with fused=True (PyTorch has no fused RMSprop)",
    "sklearn": "LogisticRegression (lbfgs) or MLPClassifier",
    "sklearn SGDClassifier": "one epoch (max_iter=1, tol=None) of plain per-sample SGD with its default \"optimal\" "
                             "learning rate 1/(alpha·(t + t0)), which this problem's tiny alpha (1/(10⁶ n)) makes "
                             "enormous: the weights overshoot, hence its huge gap. It is not meant to reach the "
                             "optimum; it is timed as scikit-learn's nearest counterpart of one epoch",
    "sklearnex": "Intel oneDAL behind scikit-learn's LogisticRegression API (lbfgs)",
    cases.ROUND_TRIP: "one empty task sent to the cluster and back: the floor of each evaluation on Dask",
}
IMPLEMENTATION_NOTES["numba " + cases.EPOCH_KERNEL] = IMPLEMENTATION_NOTES["cython " + cases.EPOCH_KERNEL]
for _backend in ("cython", "numba"):
    IMPLEMENTATION_NOTES[f"{_backend} {cases.UNCHECKED}"] = (
        "the same step with check_finite=False: one fused pass (the gradient's norm taken on the way), as PyTorch's "
        "fused step; the default step reads the gradient once more to refuse NaN and infinity before any change")


def _implementation_note(name):
    if name in IMPLEMENTATION_NOTES:
        return IMPLEMENTATION_NOTES[name]
    if name.startswith("dask-ml "):
        return "dask-ml's LogisticRegression with the solver named"
    return ""


def _columns(records):
    """``[(column, note)]``: the columns the report's tables show, in order."""
    timed = [r for r in records if r.seconds is not None]
    columns = [(name, COLUMN_NOTES[name]) for name in ("median", "GB/s", "x vs NumPy reference")] if timed else []
    peers = [PEERS[family] for family in PEERS if any(r.family == family for r in timed)]
    if peers:
        columns.append((", ".join(f"x vs {peer}" for peer in peers), COLUMN_NOTES["x vs peer"]))
    if any(r.extra for r in timed):
        columns.append(("result", COLUMN_NOTES["result"]))
    if any(r.kind == "memory" and not r.skipped for r in records):
        columns += [(name, COLUMN_NOTES[name]) for name in ("allocated", "share of X", "measured as")]
    return columns


def _implementations(records):
    """``[(names, family title, note)]`` for the implementations that ran, by family in FAMILY_TITLES order;
    implementations of one family with the same note share a row."""
    ran = [r for r in records if not r.skipped]
    rows = []
    for family, title in FAMILY_TITLES.items():
        by_note = defaultdict(list)
        for name in dict.fromkeys(r.implementation for r in ran if r.family == family):
            by_note[_implementation_note(name)].append(name)
        rows += [(names, title, note) for note, names in by_note.items()]
    return rows


def legend(records, heading="### How to read this report"):
    """A markdown legend of the report of ``records``: each column its tables show and each implementation that ran."""
    out = [heading, "", "Every ratio is of two medians of this run; above 1 is faster. The columns:", ""]
    out += [f"- **{name}**: {note}." for name, note in _columns(records)]
    out += ["", "| implementation | whose code | what runs |", "|---|---|---|"]
    out += [f"| {', '.join(f'`{name}`' for name in names)} | {title} | {note} |"
            for names, title, note in _implementations(records)]
    return "\n".join(out)


def markdown_report(records, machine=None, title="fastgd benchmark", reproduce=None, chart=None, level=2):
    """The whole report: machine, chart, how to read it, one table per kind, what was skipped, how to reproduce.

    ``level`` is the markdown level of the title; the tables' headings are one below.
    """
    out = [f"{'#' * level} {title}", ""]
    if machine:
        out += ["Measured on: " + "; ".join(f"{key} {value}" for key, value in machine.items() if value), ""]
    if chart:
        out += [f"![benchmark chart]({chart})", ""]
    out += [legend(records, heading=f"{'#' * (level + 1)} How to read this report"), ""]
    by_kind = defaultdict(list)
    for record in records:
        by_kind[record.kind].append(record)
    for kind, title_text in KIND_TITLES.items():
        if any(r.seconds is not None or (kind == "memory" and not r.skipped) for r in by_kind.get(kind, [])):
            table = memory_table(by_kind[kind]) if kind == "memory" else timing_table(by_kind[kind])
            out += [f"{'#' * (level + 1)} {title_text}", "", table, ""]
    skipped = sorted({r.skipped for r in records if r.skipped})
    if skipped:
        out += ["Not measured here: " + "; ".join(skipped) + ".", ""]
    if reproduce:
        out += ["Reproduce with:", "", "```", reproduce, "```", ""]
    return "\n".join(out)


def compare(old, new, threshold=1.2):
    """Markdown table of the cases both runs timed: ``new / old`` medians, and regressions beyond ``threshold``.

    Returns ``(markdown, regressions)`` where ``regressions`` names the cases
    that got slower by more than the threshold (a noisy machine needs ~1.2).
    """
    old_times = {(r.group, r.implementation): r.seconds for r in old if r.seconds}
    lines = ["| case | implementation | before | after | after / before | |", "|---|---|---|---|---|---|"]
    regressions = []
    for r in new:
        before = old_times.get((r.group, r.implementation))
        if not (before and r.seconds):
            continue
        ratio = r.seconds / before
        flag = "REGRESSION" if ratio > threshold else ("faster" if ratio < 1 / threshold else "")
        if flag == "REGRESSION":
            regressions.append(f"{r.group} [{r.implementation}]")
        lines.append(f"| {r.group} | {r.implementation} | {format_seconds(before)} | {format_seconds(r.seconds)} "
                     f"| {ratio:.2f} | {flag} |")
    return "\n".join(lines), regressions


COLORS = {"X@w": "tab:gray", "X@W+X.T@G": "tab:gray", "X@W products": "tab:gray", "numpy-user": "tab:brown",
          "cython": "tab:blue", "numba": "tab:orange", "cython epoch kernel": "#8fc1e8",
          "numba epoch kernel": "#ffbe7d", "cython unchecked": "#8fc1e8", "numba unchecked": "#ffbe7d", "torch": "tab:red", "torch-fused": "tab:purple", "sklearn": "tab:green",
          "sklearn SGDClassifier": "tab:olive", "sklearnex": "tab:cyan"}
CHART_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def save_chart(records, path, title="fastgd benchmark", machine=None):
    """A PNG of the speed-ups over the NumPy reference: one panel per kind, one horizontal bar per implementation
    from 1 on a log axis (left of 1 slower, right of 1 faster), its value at its end.

    ``title`` and the CPU and cores of ``machine`` (see :func:`machine_info`)
    make the chart's title.  Returns ``path``, or None (no file) when no case
    was timed.
    """
    panels = [_speedups([r for r in records if r.kind == kind]) for kind in ("loss", "optimizer", "fit")]
    panels = [(kind, rows) for kind, rows in zip(("loss", "optimizer", "fit"), panels) if rows]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [sum(len(bars) + 1 for bars in rows.values()) for _, rows in panels]
    values = [value for _, rows in panels for bars in rows.values() for _, value in bars]
    limits = (min(min(values), 1) / 2.2, max(max(values), 1) * 2.2)  # room for the value labels
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 1.2 + 0.14 * sum(bars)), squeeze=False,
                             gridspec_kw={"height_ratios": bars}, layout="constrained")
    for ax, (kind, rows) in zip(axes[:, 0], panels):
        _speedup_panel(ax, rows, KIND_TITLES[kind], limits)
    fig.suptitle(_chart_title(title, machine), fontsize=12)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _chart_title(title, machine):
    details = [str(machine[key]) + suffix for key, suffix in (("cpu", ""), ("usable cores", " cores"))
               if machine and machine.get(key)]
    return f"{title}: speed-up over the NumPy reference" + (f"\n{', '.join(details)}" if details else "")


def _speedups(records):
    """``{group: [(implementation, t(reference) / t)]}`` of the timed groups that hold the reference."""
    speedups = {}
    for group, rows in _groups([r for r in records if r.seconds]).items():
        reference = _best(rows, "reference")
        if reference:
            speedups[group] = [(r.implementation, reference / r.seconds) for r in rows if r.family != "reference"]
    return speedups


def _speedup_label(value):
    """"14x", "3.2x", "0.58x": two significant digits (three at most)."""
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x" if value >= 1 else f"{value:.2f}x"


def _speedup_panel(ax, speedups, title, limits):
    """One bar per (group, implementation), from 1 to its speed-up; a group's bars together, its name beside them."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    position, labelled, group_ticks = 0, set(), []
    for index, (group, bars) in enumerate(speedups.items()):
        first = position
        for implementation, value in bars:
            label = None if implementation in labelled else implementation
            labelled.add(implementation)
            ax.barh(position, value - 1, left=1, height=0.8, color=COLORS.get(implementation), label=label)
            ax.text(value * (1.04 if value >= 1 else 1 / 1.04), position, _speedup_label(value), fontsize=7,
                    va="center", ha="left" if value >= 1 else "right")
            position += 1
        group_ticks.append(((first + position - 1) / 2, group))
        if index % 2:
            ax.axhspan(first - 0.5, position - 0.5, color="0.95", zorder=0)
        position += 1  # a gap between groups
    ax.set_yticks([tick for tick, _ in group_ticks], [group for _, group in group_ticks], fontsize=7)
    ax.set_ylim(position - 1.5, -0.5)
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    ax.xaxis.set_major_locator(FixedLocator([t for t in CHART_TICKS if limits[0] <= t <= limits[1]]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_xlabel("speed-up over the NumPy reference (log scale): left of 1 slower, right of 1 faster", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def machine_info():
    """CPU, cores, Python, library versions and the BLAS NumPy uses."""
    import numpy as np

    import fastgd
    from fastgd._validation import usable_cores

    info = {
        "cpu": _cpu_name(),
        "usable cores": usable_cores(),
        "python": platform.python_version(),
        "fastgd": fastgd.__version__,
        "numpy": np.__version__,
        "BLAS": _blas(),
    }
    for module_name in ("numba", "torch", "sklearn", "sklearnex", "dask", "dask_ml"):
        try:
            info[module_name] = __import__(module_name).__version__
        except ImportError:
            pass
    info["backends"] = ", ".join(fastgd.available_backends())
    info["unavailable backends"] = "; ".join(f"{name}: {reason}" for name, reason in fastgd.backend_errors().items()) or "none"
    if "cython" in fastgd.available_backends():
        import fastgd_core

        info["cython kernels"] = fastgd_core.build_info()["simd"]
    overrides = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS") if k in os.environ}
    info["environment overrides"] = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "none"
    return info


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, {p.get('num_threads')} threads)"
                     for p in pools) or "none found"


README_START = "<!-- fastgd bench: start -->"
README_END = "<!-- fastgd bench: end -->"


def update_readme(path, section):
    """Replace the text between the two bench markers of ``path`` with ``section``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no '{README_START}' ... '{README_END}' markers to replace")
    text = text[: start + len(README_START)] + "\n" + section.strip() + "\n" + text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
