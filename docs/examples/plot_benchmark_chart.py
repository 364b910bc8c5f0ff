"""
The benchmark, against the peers
================================

``python -m fastgd bench`` times every backend beside the NumPy reference and beside PyTorch,
scikit-learn, scikit-learn-intelex and dask-ml, and saves its records as ``bench.json`` (with the
tables of ``bench.md`` and the chart ``bench.png``, drawn by
:func:`fastgd.benchmark.report.save_chart`). The records of the run shown in the README are committed
in ``docs/benchmarks/``; this example reads them and nothing is timed while the documentation builds.

Each record holds a case (``group``), an ``implementation``, its ``family`` (``fastgd``, ``reference``,
a peer's name) and the median time in seconds. A speed-up is a ratio of two medians of the same run,
``t(peer) / t(fastgd)``: above 1, fastgd is faster.
"""

# %%
# Reading the records
# -------------------
# The examples run with the example's folder as the working directory, so the records are one folder
# up.

import json
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from fastgd.benchmark import report

with open(Path("..") / "benchmarks" / "bench.json", encoding="utf-8") as f:
    run = json.load(f)
records = report.records_from_dicts(run["records"])
print(f"{len(records)} records, scale {run['scale']!r}; measured on: cpu {run['machine']['cpu']}, "
      f"{run['machine']['usable cores']} cores, fastgd {run['machine']['fastgd']}")

# %%
# fastgd against each peer
# ------------------------
# For each case, fastgd's time is the faster of its two compiled backends as a user calls them
# (``cython``, ``numba``; on Dask, the Cython backend on the cluster), and each peer implementation
# timed in the same case is compared with it. Memory records are left out (they are not timings).

FASTGD_IMPLEMENTATIONS = {"dask": ("cython dask",), "default": ("cython", "numba")}
KINDS = ("loss", "optimizer", "fit", "dask")


def fastgd_seconds(rows, kind):
    """The faster of fastgd's user-facing implementations in one case (None if none was timed)."""
    names = FASTGD_IMPLEMENTATIONS.get(kind, FASTGD_IMPLEMENTATIONS["default"])
    times = [r.seconds for r in rows if r.family == "fastgd" and r.implementation in names and r.seconds]
    return min(times) if times else None


comparisons = defaultdict(list)  # kind -> [(case, peer implementation, speed-up)]
cases = defaultdict(list)
for record in records:
    cases[(record.kind, record.group)].append(record)
for (kind, group), rows in cases.items():
    mine = fastgd_seconds(rows, kind)
    if kind not in KINDS or mine is None:
        continue
    for peer in rows:
        if peer.family in report.PEERS and peer.seconds:
            comparisons[kind].append((group, peer.implementation, peer.seconds / mine))

# %%
# A small table: per kind of case and peer, how many cases, and the smallest, median and largest
# speed-up.

print(f"{'kind':<10} {'peer':<26} {'cases':>5} {'min':>7} {'median':>7} {'max':>7}")
for kind in KINDS:
    by_peer = defaultdict(list)
    for _, peer, speedup in comparisons[kind]:
        by_peer[peer].append(speedup)
    for peer, speedups in by_peer.items():
        print(f"{kind:<10} {peer:<26} {len(speedups):>5} {min(speedups):>6.2f}x {np.median(speedups):>6.2f}x "
              f"{max(speedups):>6.2f}x")

# %%
# The chart
# ---------
# One row per kind of case and peer, one dot per case, the median marked with a bar; on a log scale,
# dots right of the line at 1 are cases where fastgd is faster, dots left of it cases where the peer
# is ahead.

rows = [(kind, peer, [s for _, p, s in comparisons[kind] if p == peer])
        for kind in KINDS for peer in dict.fromkeys(p for _, p, _ in comparisons[kind])]
kind_colors = dict(zip(KINDS, ("tab:blue", "tab:orange", "tab:green", "tab:purple")))
fig, axis = plt.subplots(figsize=(10, 1 + 0.42 * len(rows)), layout="constrained")
jitter = np.random.default_rng(0)
for position, (kind, peer, speedups) in enumerate(rows):
    color = kind_colors[kind]
    axis.scatter(speedups, position + jitter.uniform(-0.15, 0.15, len(speedups)), color=color, s=28, alpha=0.8,
                 edgecolors="white", linewidths=0.5)
    axis.plot([np.median(speedups)] * 2, [position - 0.3, position + 0.3], color=color, linewidth=2.5)
axis.set_yticks(np.arange(len(rows)), [f"vs {peer} ({len(speedups)})" for _, peer, speedups in rows])
axis.invert_yaxis()
axis.axvline(1.0, color="black", linewidth=1)
axis.set_xscale("log")
axis.set_xticks([0.5, 1, 2, 5, 10, 20], ["0.5x", "1x", "2x", "5x", "10x", "20x"])
axis.set(xlabel="speed-up of fastgd, t(peer) / t(fastgd) (log scale; > 1: fastgd is faster)",
         title="fastgd against its peers, per case (bar: median)")
axis.grid(True, axis="x", alpha=0.3)
handles = [plt.Line2D([], [], marker="o", linestyle="", color=color, label=report.KIND_TITLES[kind])
           for kind, color in kind_colors.items() if comparisons[kind]]
axis.legend(handles=handles, fontsize=8, loc="lower left")
plt.show()

# %%
# Where a peer is ahead
# ---------------------

behind = [(group, peer, speedup) for rows in comparisons.values() for group, peer, speedup in rows if speedup < 1]
for group, peer, speedup in behind:
    print(f"{peer} is {1 / speedup:.2f}x faster: {group}")
print(f"{len(behind)} of {sum(len(rows) for rows in comparisons.values())} comparisons")

# %%
# The optimizer steps are memory-bound: fastgd's fused update and PyTorch's ``fused=True`` one both
# stream the parameters, the gradient and the state once, so against it the ratios stay within a
# factor of two either way (the table above) and move with the machine's noise; the unfused PyTorch
# optimizers make several passes and are 1.35 to 9.1 times slower. The README explains how each case is
# set up and how to run the benchmark.
