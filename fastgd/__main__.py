"""Command line: ``python -m fastgd demo | bench | info``.

* ``demo`` -- generate a large logistic-regression problem, compute the loss
  and gradient with every backend, check that they agree with the NumPy
  reference, and print times and speed-ups; then train ``LogisticRegression``
  with every backend (L-BFGS, and mini-batch Adam beside the plain NumPy loop)
  and print time, final loss, accuracy and stop reason.
* ``bench`` -- time every benchmark case (loss kernels, optimizer steps, fits)
  with every backend beside the NumPy reference and the installed peers, measure
  the memory a fit allocates, and write a markdown report, its JSON records and
  a PNG chart (``--out``); optionally into a README's bench section.
* ``info`` -- versions, backends (and why any is missing), OpenMP, threads.
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


def _parser():
    parser = argparse.ArgumentParser(prog="python -m fastgd", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="time the loss kernels of every backend")
    demo_parser.add_argument("--n-samples", type=int, default=1_000_000)
    demo_parser.add_argument("--n-features", type=int, default=100)
    demo_parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    demo_parser.add_argument("--loss", nargs="+", choices=sorted(LOSS_PROBLEMS), default=["log_loss", "squared_error"])
    demo_parser.add_argument("--repeat", type=int, default=5)
    demo_parser.add_argument("--n-threads", type=int, default=None)
    demo_parser.add_argument("--seed", type=int, default=0)
    demo_parser.add_argument("--epochs", type=int, default=3, help="mini-batch epochs to train (0: no training)")
    demo_parser.add_argument("--plot", metavar="PATH", help="save the training curves (PNG; needs matplotlib)")
    demo_parser.set_defaults(run=demo)
    bench_parser = commands.add_parser("bench", help="run the benchmark and write its report (markdown, JSON, PNG)")
    bench_parser.add_argument("--scale", choices=["small", "large"], default="small",
                              help="small: seconds; large: 1,000,000 x 100 data and 10,000,000 parameters, minutes")
    bench_parser.add_argument("--out", default="fastgd-bench", help="folder for bench.md, bench.json, bench.png")
    bench_parser.add_argument("--kinds", nargs="+", choices=["loss", "optimizer", "fit", "memory", "dask"],
                              default=["loss", "optimizer", "fit", "memory"])
    bench_parser.add_argument("--min-time", type=float, default=0.5, help="seconds to time each case for (at least 3 rounds)")
    bench_parser.add_argument("--readme", metavar="PATH", help="also write the report between the bench markers of PATH")
    bench_parser.set_defaults(run=bench)
    info_parser = commands.add_parser("info", help="versions, backends, OpenMP, threads")
    info_parser.set_defaults(run=info)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
