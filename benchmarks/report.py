"""Saved pytest-benchmark runs as fastgd's report, and two runs compared.

    pytest benchmarks --benchmark-json=run.json
    python benchmarks/report.py run.json [--out report.md] [--chart chart.png]
    python benchmarks/report.py new.json --compare old.json [--threshold 1.2] [--fail-on-regression]

Either file may also be the ``bench.json`` that ``python -m fastgd bench`` writes,
so the suite and the shipped benchmark can be compared case by case.
The tables are those of ``python -m fastgd bench`` (:mod:`fastgd.benchmark.report`):
time (the median round), throughput, speed-ups over the NumPy reference and
over each peer.  ``--compare`` lists ``new / old`` for every case both runs
timed and flags as a regression each case slower than ``--threshold`` times.
"""

import argparse
import json
import sys

from fastgd.benchmark import report
from fastgd.benchmark.measure import Record

CASE_KEYS = ("kind", "group", "implementation", "family", "bytes_moved")


def load_records(path):
    """Records of a saved run: a pytest-benchmark JSON file, or the ``bench.json`` of ``python -m fastgd bench``."""
    with open(path) as f:
        data = json.load(f)
    if "records" in data:
        return report.records_from_dicts(data["records"]), {"fastgd": data.get("machine", {})}
    records = []
    for bench in data.get("benchmarks", []):
        info = dict(bench.get("extra_info", {}))
        if not all(key in info for key in CASE_KEYS):
            continue  # not one of fastgd's cases
        case = {key: info.pop(key) for key in CASE_KEYS}
        records.append(Record(**case, seconds=bench["stats"]["median"], rounds=bench["stats"]["rounds"], extra=info))
    if not records:
        raise SystemExit(f"{path}: no fastgd benchmark cases in it (was it saved with --benchmark-json?)")
    return records, data.get("machine_info", {})


def _machine(machine_info):
    return machine_info.get("fastgd") or {key: machine_info.get(key) for key in ("cpu", "python_version", "node")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a pytest-benchmark JSON file (--benchmark-json) or a bench.json")
    parser.add_argument("--out", help="write the markdown here instead of printing it")
    parser.add_argument("--chart", help="also save the speed-up chart as this PNG (needs matplotlib)")
    parser.add_argument("--compare", metavar="OLD", help="an earlier run to compare with")
    parser.add_argument("--threshold", type=float, default=1.2, help="new/old median above which a case is a regression")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit with status 1 when a case regressed")
    args = parser.parse_args(argv)
    if args.threshold <= 1:
        parser.error("--threshold must be above 1")
    records, machine_info = load_records(args.run)
    text = report.markdown_report(records, _machine(machine_info), f"fastgd benchmark: {args.run}",
                                  f"pytest benchmarks --benchmark-json={args.run}", args.chart)
    regressions = []
    if args.compare:
        old, _ = load_records(args.compare)
        table, regressions = report.compare(old, records, args.threshold)
        text += f"\n### Compared with {args.compare} (threshold {args.threshold:.2f}x)\n\n{table}\n"
        text += f"\n{len(regressions)} regression(s)" + (": " + "; ".join(regressions) if regressions else "") + "\n"
    if args.chart:
        report.save_chart(records, args.chart)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 1 if regressions and args.fail_on_regression else 0


if __name__ == "__main__":
    sys.exit(main())
