"""fastgd's benchmark, shipped in the package: ``python -m fastgd bench``.

It times the cases of :mod:`fastgd.benchmark.cases` (the same cases the
pytest-benchmark suites in a source checkout run), measures the memory a fit
allocates, and writes ``bench.md`` (tables), ``bench.json`` (the records) and
``bench.png`` (a chart, when matplotlib is installed) into one folder.
"""

import json
import os
import sys
from dataclasses import asdict

from fastgd.benchmark import cases, measure, report

__all__ = ["run"]


def run(scale="small", out="fastgd-bench", kinds=("loss", "optimizer", "fit", "memory"), readme=None, min_time=0.5,
        progress=print):
    """Run the benchmark at ``scale``; write the report into ``out``; return the records.

    ``readme``: a markdown file whose bench markers receive the report.
    """
    sizes = cases.scale_sizes(scale)
    timed_kinds = [k for k in kinds if k != "memory"]
    records = []
    for case in cases.all_cases(scale, timed_kinds):
        record = measure.time_case(case, min_time=min_time)
        progress(_progress_line(record))
        records.append(record)
    if "memory" in kinds:
        for record in measure.fit_memory(sizes):
            progress(_progress_line(record))
            records.append(record)
    write(records, out, scale, readme)
    return records


def _progress_line(record):
    if record.skipped:
        return f"  skipped {record.group} [{record.implementation}]: {record.skipped}"
    if record.kind == "memory":
        return f"  {record.group} [{record.implementation}]: {record.extra['peak_bytes'] / 1e6:.1f} MB allocated"
    median = report.format_seconds(record.seconds)
    return f"  {record.group} [{record.implementation}]: {median} (median of {record.rounds})"


def write(records, out, scale, readme=None, machine=None):
    """``bench.json``, ``bench.png`` and ``bench.md`` in ``out``; the README section if asked.

    ``machine``: what the records were measured on (:func:`report.machine_info`
    of this machine when None; pass a saved run's to write its report again).
    """
    os.makedirs(out, exist_ok=True)
    machine = machine or report.machine_info()
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump({"scale": scale, "machine": machine, "records": [asdict(r) for r in records]}, f, indent=1)
    title = f"fastgd benchmark ({scale} scale)"
    chart = _chart(records, os.path.join(out, "bench.png"), title, machine)
    command = "python -P -m fastgd bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else None
    command = command or f"python -P -m fastgd bench --scale {scale} --out {out}"
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(report.markdown_report(records, machine, title, command, chart and os.path.basename(chart)))
    if readme:
        chart_link = chart and os.path.relpath(chart, os.path.dirname(os.path.abspath(readme))).replace(os.sep, "/")
        report.update_readme(readme, report.markdown_report(records, machine, title, command, chart_link, level=3))


def _chart(records, path, title, machine):
    try:
        return report.save_chart(records, path, title, machine)
    except ImportError:
        return None
