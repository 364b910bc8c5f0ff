"""The command line: ``python -m fastgd demo | bench | info``.

``python -m fastgd --help`` (and ``--help`` after a command) describes each
command and option; the texts are in :func:`_parser`, written for a terminal.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import fastgd
from fastgd import _validation, datasets, losses

LOSS_PROBLEMS = {
    "log_loss": datasets.make_classification,
    "squared_error": datasets.make_regression,
}


def _median_seconds(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _relative_gap(result, expected):
    """Largest gap between two ``(loss, grad_w, grad_b)``, relative to their size."""
    flat = [np.atleast_1d(np.asarray(part, dtype=np.float64)) for part in result]
    reference = [np.atleast_1d(np.asarray(part, dtype=np.float64)) for part in expected]
    gaps = [np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300) for a, b in zip(flat, reference)]
    return max(gaps)


def _demo_loss(loss_name, args):
    X, y, _ = LOSS_PROBLEMS[loss_name](args.n_samples, args.n_features, dtype=args.dtype, random_state=args.seed)
    w = np.full(X.shape[1], 0.1, dtype=X.dtype)
    loss_grad = losses.get_loss(loss_name)
    tolerance = 1e-9 if X.dtype == np.float64 else 1e-4
    expected = loss_grad(X, y, w, 0.1, backend="numpy")
    reference_time = None
    rows, failures = [], 0
    for name in ["numpy"] + [b for b in fastgd.available_backends() if b != "numpy"]:
        def call(name=name):
            return loss_grad(X, y, w, 0.1, backend=name, n_threads=args.n_threads)

        start = time.perf_counter()
        result = call()  # the first call includes any JIT compilation or cache load
        first = time.perf_counter() - start
        seconds = _median_seconds(call, args.repeat)
        reference_time = reference_time or seconds
        gap = _relative_gap(result, expected)
        agrees = gap <= tolerance
        failures += not agrees
        rows.append((name, first, seconds, reference_time / seconds, result[0], gap, "yes" if agrees else "NO"))
    print(f"\n{loss_name}: X {X.shape[0]:,} x {X.shape[1]} {X.dtype}, median of {args.repeat} calls")
    print(f"{'backend':<8} {'first call':>11} {'median':>10} {'speed-up':>9} {'loss':>12} {'rel. gap':>9}  agrees")
    for name, first, seconds, speedup, loss, gap, agrees in rows:
        print(f"{name:<8} {first * 1e3:>8.1f} ms {seconds * 1e3:>7.1f} ms {speedup:>8.2f}x {loss:>12.6f} {gap:>9.1e}  {agrees}")
    return failures


def _demo_training(args):
    """Train LogisticRegression with every backend; return the fitted models by label."""
    import warnings

    X, y, _ = datasets.make_classification(args.n_samples, args.n_features, dtype=args.dtype, random_state=args.seed)
    alpha = 1.0 / (1e6 * len(y))
    runs = [(f"L-BFGS ({b})", dict(backend=b)) for b in fastgd.available_backends()]
    runs += [(f"Adam, batch 1024, {args.epochs} epochs ({b})", dict(optimizer="adam", lr=1e-3, batch_size=1024,
             max_iter=args.epochs, random_state=args.seed, backend=b)) for b in fastgd.available_backends()]
    print(f"\ntraining LogisticRegression(alpha=1/(1e6 n)) on {X.shape[0]:,} x {X.shape[1]} {X.dtype}"
          " (the numpy backend's Adam is the plain NumPy mini-batch loop; times after a warm-up fit)")
    print(f"{'model':<42} {'time':>9} {'final loss':>12} {'accuracy':>9}  stop reason")
    models = {}
    for label, options in runs:
        model = fastgd.LogisticRegression(alpha=alpha, n_threads=args.n_threads, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            model.fit(X[:2000], y[:2000])  # warm-up: JIT compilation or cache loading is not timed
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        accuracy = model.score(X, y)
        print(f"{label:<42} {seconds:>7.2f} s {model.history_['loss'][-1]:>12.6f} {accuracy:>9.4f}  {model.stop_reason_}")
        models[label] = model
    return models


def demo(args):
    """Time every backend's fused loss+gradient on a generated problem, then train with each."""
    print(f"fastgd {fastgd.__version__} demo; backends: {', '.join(fastgd.available_backends())}")
    failures = sum(_demo_loss(name, args) for name in args.loss)
    if failures:
        print(f"\n{failures} backend result(s) disagree with the NumPy reference", file=sys.stderr)
        return 1
    print("\nEvery backend agrees with the NumPy reference.")
    if args.epochs > 0:
        models = _demo_training(args)
        if args.plot:
            label = next(iter(models))
            fastgd.plot_history(models[label], args.plot)
            print(f"\ntraining curves of {label} saved to {args.plot}")
    return 0


def bench(args):
    """Run the shipped benchmark and write its report."""
    from fastgd import benchmark

    if args.readme and not os.path.exists(args.readme):
        raise SystemExit(f"--readme: {args.readme} does not exist")
    print(f"fastgd {fastgd.__version__} benchmark, {args.scale} scale; backends: {', '.join(fastgd.available_backends())}")
    benchmark.run(args.scale, args.out, kinds=args.kinds, readme=args.readme, min_time=args.min_time)
    print(f"report written to {os.path.join(args.out, 'bench.md')}")
    return 0


def _version_of(module_name):
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return getattr(module, "__version__", "unknown")


def info(args):
    """Print versions, backends, OpenMP and thread counts."""
    print(f"fastgd {fastgd.__version__}")
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    for module_name in ("numpy", "numba", "scipy", "sklearn", "torch"):
        print(f"{module_name} {_version_of(module_name)}")
    print(f"usable cores: {_validation.usable_cores()}")
    print(f"available backends (default order): {', '.join(fastgd.available_backends())}")
    for name, reason in fastgd.backend_errors().items():
        print(f"  {name} unavailable: {reason}")
    print(f"default backend: {fastgd.get_backend().name}")
    if "cython" in fastgd.available_backends():
        import fastgd_core

        for key, value in fastgd_core.build_info().items():
            print(f"cython build: {key} = {value}")
    if "numba" in fastgd.available_backends():
        import numba

        from fastgd.backends.numba_backend import cache_dir

        print(f"numba: threading layer {numba.config.THREADING_LAYER}, {numba.config.NUMBA_NUM_THREADS} threads")
        print(f"numba: kernel cache in {cache_dir() or 'nowhere (no writable location; set FASTGD_CACHE_DIR)'}")
    return 0


DESCRIPTION = "fastgd's command line: a demo of its backends, its benchmark, and what is installed."
EXAMPLES = """examples:
  python -m fastgd info
  python -m fastgd demo --n-samples 100000 --dtype float32
  python -m fastgd bench --scale small --out bench-small
  python -m fastgd demo --help"""
DEMO_DESCRIPTION = (
    "Generate a logistic-regression and a least-squares problem, compute the fused loss and gradient with every "
    "backend, check each result against the NumPy reference, and print the first call's time (JIT compilation or "
    "cache loading included), the median time and the speed-up over the reference. Then train LogisticRegression "
    "with every backend (L-BFGS, and mini-batch Adam) and print the time, final loss, accuracy and stop reason. "
    "Exits with status 1 when a backend disagrees with the reference."
)
BENCH_DESCRIPTION = (
    "Time every benchmark case (fused loss+gradient, optimizer steps, fits) with every backend beside the NumPy "
    "reference and the installed peers (PyTorch, scikit-learn, scikit-learn-intelex, dask-ml), measure the memory a "
    "fit allocates, and write into --out: bench.md (the tables and how to read them), bench.json (the records) and "
    "bench.png (the chart, when matplotlib is installed)."
)
INFO_DESCRIPTION = (
    "Print the versions of fastgd and its dependencies, the usable cores, the available backends in default order "
    "(and why any is missing), the default backend, the Cython build (OpenMP, SIMD variant) and Numba's threading "
    "layer and kernel cache."
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help (a None default is worded in the help itself); paragraphs wrapped,
    indented lines (the examples) kept as written."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        if isinstance(action.default, (list, tuple)):
            return f"{action.help} (default: {' '.join(map(str, action.default))})"
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        return "\n\n".join("\n".join(indent + line for line in block.splitlines()) if "\n  " in block
                           else super(_HelpFormatter, self)._fill_text(block, width, indent)
                           for block in text.split("\n\n"))


def _add_command(commands, name, summary, description, run, examples=()):
    epilog = "examples:\n" + "\n".join(f"  python -m fastgd {example}" for example in examples) if examples else None
    command = commands.add_parser(name, help=summary, description=description, epilog=epilog,
                                  formatter_class=_HelpFormatter)
    command.set_defaults(run=run)
    return command


def _parser():
    from fastgd.benchmark import report

    parser = argparse.ArgumentParser(prog="python -m fastgd", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=_HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, title="commands",
                                     metavar="{demo,bench,info}")
    demo_parser = _add_command(commands, "demo", "time and check every backend's loss kernels, then train with each",
                               DEMO_DESCRIPTION, demo, ["demo --n-samples 100000 --dtype float32",
                                                        "demo --epochs 5 --plot curves.png"])
    demo_parser.add_argument("--n-samples", type=int, default=1_000_000, metavar="N",
                             help="rows of the generated problems")
    demo_parser.add_argument("--n-features", type=int, default=100, metavar="D",
                             help="columns of the generated problems")
    demo_parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                             help="floating type of X; float32 data is computed and trained in float32")
    demo_parser.add_argument("--loss", nargs="+", choices=sorted(LOSS_PROBLEMS), default=sorted(LOSS_PROBLEMS),
                             metavar="LOSS", help="the losses whose fused loss+gradient is timed, among "
                                                  + ", ".join(sorted(LOSS_PROBLEMS)))
    demo_parser.add_argument("--repeat", type=int, default=5, metavar="K",
                             help="calls timed per backend after the first one; the median is printed")
    demo_parser.add_argument("--n-threads", type=int, default=None, metavar="T",
                             help="threads of each kernel call and fit (default: every core the process may use)")
    demo_parser.add_argument("--seed", type=int, default=0,
                             help="random seed of the generated problems and of the mini-batch order")
    demo_parser.add_argument("--epochs", type=int, default=3,
                             help="epochs of the mini-batch Adam fits; 0 skips the training")
    demo_parser.add_argument("--plot", metavar="PATH",
                             help="save the training curves of the first fit as a PNG (needs matplotlib; default: "
                                  "no plot)")
    bench_parser = _add_command(commands, "bench", "run the benchmark and write its report (markdown, JSON, PNG)",
                                BENCH_DESCRIPTION, bench, ["bench --scale small --out bench-small",
                                                           "bench --scale large --kinds loss fit --out bench-large"])
    bench_parser.add_argument("--scale", choices=["small", "large"], default="small",
                              help="small: 20,000 x 100 data and 100,000 parameters, a few minutes at most on 2 cores; large: "
                                   "1,000,000 x 100 data and 10,000,000 parameters, minutes")
    bench_parser.add_argument("--out", default="fastgd-bench", metavar="DIR",
                              help="folder for bench.md, bench.json and bench.png, created if missing")
    bench_parser.add_argument("--kinds", nargs="+", choices=["loss", "optimizer", "fit", "memory", "dask"],
                              default=["loss", "optimizer", "fit", "memory"], metavar="KIND",
                              help="what to measure: loss (fused loss+gradient), optimizer (one step), fit "
                                   "(training), memory (what a fit allocates), dask (fits on a local Dask cluster; "
                                   "needs dask and distributed)")
    bench_parser.add_argument("--min-time", type=float, default=0.5, metavar="SECONDS",
                              help="seconds to time each case for: at least 3 rounds, fewer only when they already "
                                   "take over 3 times this")
    bench_parser.add_argument("--readme", metavar="PATH",
                              help=f"also write the report into this markdown file, between its lines "
                                   f"{report.README_START} and {report.README_END} (default: no README)")
    _add_command(commands, "info", "print versions, backends, the build and threads", INFO_DESCRIPTION, info)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
