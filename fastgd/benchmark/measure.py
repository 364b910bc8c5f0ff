"""Measuring cases: median wall time over rounds, and the memory a fit allocates."""

import ast
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

from fastgd.benchmark import cases


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
    except cases.Unavailable as reason:
        return Record(case.kind, case.group, case.implementation, case.family, None, skipped=str(reason))
    times, result = [], None
    while len(times) < max_rounds:
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        elapsed = sum(times)
        if elapsed >= min_time and (len(times) >= 3 or elapsed > 3 * min_time):
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


def peak_allocation_in_new_process(setup, call, repeat=3):
    """``(peak bytes, method, NumPy's peak bytes)`` of the expression ``call`` in a new Python process.

    The process runs ``setup`` (statements), calls ``call`` once as a warm-up
    (JIT compilation, thread pools, caches), then returns the smallest of
    ``repeat`` :func:`peak_allocation` measurements, and beside it the peak of
    what NumPy alone allocated (``tracemalloc``), which tells a copy made by
    NumPy from growth elsewhere.  A long-lived process (a test session) carries
    other work's threads, arenas and caches, whose growth or first use can add
    megabytes to a peak that is not the call's own.
    """
    script = "\n".join([
        setup,
        call,
        "import tracemalloc",
        "from fastgd.benchmark.measure import peak_allocation",
        f"peak, method = min(peak_allocation(lambda: {call}) for _ in range({int(repeat)}))",
        "tracemalloc.start()",
        call,
        "print(repr((peak, method, tracemalloc.get_traced_memory()[1])))",
    ])
    import fastgd

    home = os.path.dirname(os.path.dirname(os.path.abspath(fastgd.__file__)))  # the same fastgd as this process's
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=home)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-2000:]}")
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


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


def fit_memory(sizes, dtype="float32"):
    """Records of the memory each fit case allocates on the ``dtype`` problem, after its warm-up fit."""
    records = []
    for case in cases.fit_cases(sizes, dtypes=(dtype,)):
        try:
            fit = case.prepare()  # includes the warm-up fit: JIT compilation, caches, thread pools
        except cases.Unavailable as reason:
            records.append(Record("memory", case.group, case.implementation, case.family, None, skipped=str(reason)))
            continue
        x_bytes = case.data_bytes
        peak, method = peak_allocation(fit)
        extra = {"peak_bytes": peak, "x_bytes": x_bytes, "fraction_of_x": peak / x_bytes, "method": method}
        records.append(Record("memory", case.group, case.implementation, case.family, None, extra=extra))
    return records
