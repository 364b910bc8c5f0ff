"""Turning records into the report: markdown tables, a PNG chart, and the comparison of two runs.

The tables are the same whether the records come from ``python -m fastgd
bench`` or from a saved pytest-benchmark JSON (``benchmarks/report.py``).
Speed-ups are ratios of medians measured in the same run: "x vs NumPy
reference" is ``t(reference) / t``, "x vs PyTorch" and "x vs scikit-learn" are
``t(fastest of that peer in the group) / t``; above 1 means faster.
"""

import os
import platform
from collections import defaultdict

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


def _fmt_seconds(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


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
            cells = [group, record.implementation, _fmt_seconds(record.seconds), f"{gb:.1f}" if gb else "-"]
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


def markdown_report(records, machine=None, title="fastgd benchmark", reproduce=None, chart=None, level=2):
    """The whole report: machine, one table per kind, what was skipped, how to reproduce.

    ``level`` is the markdown level of the title; the tables' headings are one below.
    """
    out = [f"{'#' * level} {title}", ""]
    if machine:
        out += ["Measured on: " + "; ".join(f"{key} {value}" for key, value in machine.items() if value), ""]
    if chart:
        out += [f"![benchmark chart]({chart})", ""]
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
        lines.append(f"| {r.group} | {r.implementation} | {_fmt_seconds(before)} | {_fmt_seconds(r.seconds)} "
                     f"| {ratio:.2f} | {flag} |")
    return "\n".join(lines), regressions


COLORS = {"X@w": "tab:gray", "X@W+X.T@G": "tab:gray", "numpy-user": "tab:brown", "cython": "tab:blue", "numba": "tab:orange",
          "torch": "tab:red", "torch-fused": "tab:purple", "sklearn": "tab:green", "sklearn SGDClassifier": "tab:olive",
          "sklearnex": "tab:cyan", "X@W products": "tab:gray"}


def save_chart(records, path):
    """A PNG of the speed-up over the NumPy reference, one bar per implementation, one panel per kind.

    Returns ``path``, or None (no file) when no case was timed.
    """
    panels = [[r for r in records if r.kind == kind and r.seconds] for kind in ("loss", "optimizer", "fit")]
    panels = [rows for rows in panels if rows]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [len(rows) for rows in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 1.5 + 0.16 * sum(bars)), squeeze=False,
                             gridspec_kw={"height_ratios": bars}, layout="constrained")
    for ax, rows in zip(axes[:, 0], panels):
        _speedup_panel(ax, rows, KIND_TITLES[rows[0].kind])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _speedup_panel(ax, records, title):
    grouped = _groups(records)
    implementations = list(dict.fromkeys(r.implementation for r in records if r.family != "reference"))
    width = 0.8 / max(1, len(implementations))
    for i, implementation in enumerate(implementations):
        values = []
        for rows in grouped.values():
            reference = _best(rows, "reference")
            match = [r.seconds for r in rows if r.implementation == implementation]
            values.append(reference / match[0] if reference and match else 0.0)
        ax.barh([g + i * width for g in range(len(grouped))], values, height=width, label=implementation,
                color=COLORS.get(implementation))
    ax.set_yticks([g + 0.4 - width / 2 for g in range(len(grouped))], list(grouped), fontsize=7)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the NumPy reference (log scale; > 1 is faster)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))


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
