"""Measuring cases: median wall time over rounds, and the memory a fit allocates."""

import gc
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

from fastgd.benchmark.cases import Unavailable


@dataclass
class Record:
    """What one case measured; ``seconds`` is the median round, ``extra`` holds facts such as a fit's gap."""

    kind: str
    group: str
    implementation: str
    family: str
    seconds: float | None
    rounds: int = 0
    bytes_moved: int | None = None
    extra: dict = field(default_factory=dict)
    skipped: str | None = None

    @property
    def gb_per_s(self):
        if self.seconds and self.bytes_moved:
            return self.bytes_moved / self.seconds / 1e9
        return None


def time_case(case, min_time=0.5, max_rounds=50):
    """Prepare (and warm up) the case, then time rounds until ``min_time`` has passed: at least 3, or 1 if slow."""
    try:
        call = case.prepare()
    except Unavailable as reason:
        return Record(case.kind, case.group, case.implementation, case.family, None, skipped=str(reason))
    times, result = [], None
    while len(times) < max_rounds:
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        enough_rounds = len(times) >= 3 or sum(times) > 3 * min_time
        if enough_rounds and sum(times) >= min_time:
            break
    extra = case.describe(result) if case.describe else {}
    return Record(case.kind, case.group, case.implementation, case.family, statistics.median(times), len(times),
                  case.bytes_moved, extra)


# ---------------------------------------------------------------------------------------------- memory


def peak_allocation(call):
    """``(peak bytes, method)`` that ``call()`` allocates on top of what is already in use.

    On Linux with glibc, large blocks are made to come from ``mmap`` (so a
    freed block returns to the system) and the peak resident size is reset
    through ``/proc/self/clear_refs``: every allocation counts, NumPy's,
    compiled code's and the runtimes', as the growth of the peak resident set.
    Elsewhere, ``tracemalloc`` counts what Python and NumPy allocate.
    """
    gc.collect()
    if _resident_peak_resettable():
        before = _status_kib("VmRSS")
        call()
        return max(0, _status_kib("VmHWM") - before) * 1024, "peak resident set growth"
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1], "tracemalloc peak"
    finally:
        tracemalloc.stop()


def _resident_peak_resettable():
    """Reset the peak resident size; True when that worked (Linux), with glibc's mmap threshold fixed low."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        if not (libc.mallopt(M_MMAP_THRESHOLD, 1 << 16) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 16)):
            return False
        libc.malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmHWM") <= _status_kib("VmRSS") + 1024
    except (OSError, AttributeError):
        return False


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"{key} not in /proc/self/status")


MEMORY_IMPLEMENTATIONS = (
    ("fit", "cython"), ("fit", "numba"), ("fit", "numpy"), ("fit", "sklearn"),
    ("epoch", "cython"), ("epoch", "numba"), ("epoch", "numpy"), ("epoch", "torch"), ("epoch", "sklearn SGDClassifier"),
)


def fit_memory(sizes, dtype="float32"):
    """Records of the memory each fit allocates on the float32 problem, after a warm-up fit."""
    from fastgd.benchmark import cases

    records = []
    for what, implementation in MEMORY_IMPLEMENTATIONS:
        X, y, alpha, _ = cases.fit_problem(dtype, sizes)
        label = "LogisticRegression fit (L-BFGS)" if what == "fit" else f"one mini-batch Adam epoch (batch {cases.BATCH_SIZE})"
        group = f"{label} {dtype} {X.shape[0]:,}x{X.shape[1]}"
        family = cases.Case("memory", group, implementation, None, None).family
        try:
            fit = cases.make_fit(implementation, alpha, epoch=what == "epoch")
        except Unavailable as reason:
            records.append(Record("memory", group, implementation, family, None, skipped=str(reason)))
            continue
        fit(X, y)  # warm-up: JIT compilation, caches, thread pools
        peak, method = peak_allocation(lambda: fit(X, y))
        extra = {"peak_bytes": peak, "x_bytes": X.nbytes, "fraction_of_x": peak / X.nbytes, "method": method}
        records.append(Record("memory", group, implementation, family, None, extra=extra))
    return records
