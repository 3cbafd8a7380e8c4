"""The parameter server: push and pull throughput, and time to a target loss under BSP, SSP, ASP.

    python -m minidl.bench.ps [--repeats 20] [--size 1000000] [--seeds 5]

Part 1 times push and pull of a whole model of `size` float64 values (1M floats =
8 MB, as 1,000 keys of 1,000 floats) with 1, 2 and 4 worker threads and 1, 2 and 4
shards. Each thread pushes (or pulls) every key, `--ops` times per repeat, all threads
at once; the table gives the median over repeats of the operations per second of all
threads together and the payload bandwidth (gradient or parameter bytes moved per
second). The server's SGD rule is `w -= lr * g` on each shard's slice, so the
reference, timed in the same run on the same bytes, is NumPy doing exactly that on
one array; for pull it is `np.copyto` into a buffer, as a pull with `out=` does.

Part 2 simulates the slow-worker scenario (`minidl.ps.Scenario`: 8 workers, one 2x
slower on average, log-normal jitter, softmax regression on the bundled MNIST subset)
under BSP, SSP(3) and ASP, for several seeds, and reports the virtual time and the
updates to reach the target loss. The simulated numbers are the same on every run.
"""
from __future__ import annotations

import argparse
import sys

from minidl.bench import set_blas_threads


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats per configuration")
    parser.add_argument("--ops", type=int, default=5, help="operations per thread per repeat")
    parser.add_argument("--size", type=int, default=1_000_000, help="floats in the model (float64)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the simulated scenario")
    parser.add_argument("--updates", type=int, default=1500, help="cap on simulated pushes per run")
    return parser.parse_args(argv)


def _timed_threads(n_threads: int, op, ops: int) -> float:
    """Seconds for n_threads threads to each run op(thread) `ops` times, started together."""
    import threading
    import time
    barrier = threading.Barrier(n_threads + 1)
    def body(i):
        barrier.wait()
        for _ in range(ops):
            op(i)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    return time.perf_counter() - start


def throughput(args) -> float:
    """Prints the push/pull table; returns single-worker, single-shard push GB/s / NumPy's."""
    import statistics
    import time

    import numpy as np

    from minidl.ps import ASP, SGD, KeyLayout, ParameterServer

    width = 1000 if args.size % 1000 == 0 else 1
    layout = KeyLayout.uniform(args.size // width, width)
    nbytes = layout.size * 8
    rng = np.random.default_rng(0)
    g, w, out = rng.standard_normal(layout.size), rng.standard_normal(layout.size), np.empty(layout.size)
    lr = 0.01

    def median_time(fn) -> float:
        fn()  # warm up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    ref_push = nbytes / median_time(lambda: np.subtract(w, lr * g, out=w)) / 1e9  # w -= lr * g
    ref_pull = nbytes / median_time(lambda: np.copyto(out, w)) / 1e9
    print(f"Push and pull of {layout.size:,} float64 ({nbytes / 1e6:.0f} MB, {layout.n_keys} keys of "
          f"{width}); median of {args.repeats} repeats, {args.ops} ops per thread per repeat")
    print(f"reference, one thread: NumPy w -= lr * g {ref_push:6.2f} GB/s; NumPy copyto {ref_pull:6.2f} GB/s")
    print(f"{'workers':>7} {'shards':>6} {'push op/s':>10} {'push GB/s':>10} {'vs numpy':>9} "
          f"{'pull op/s':>10} {'pull GB/s':>10} {'vs numpy':>9}")
    single = None
    for n_workers in args.workers:
        for n_shards in args.shards:
            ps = ParameterServer(layout, n_shards=n_shards, rule=SGD(lr), policy=ASP(), n_workers=n_workers)
            outs = [np.empty(layout.size) for _ in range(n_workers)]
            push = lambda i, ps=ps: ps.push(i, None, g)  # every key: the whole model
            pull = lambda i, ps=ps, outs=outs: ps.pull(i, None, out=outs[i])
            rates = {}
            for name, op in (("push", push), ("pull", pull)):
                _timed_threads(n_workers, op, 1)  # warm up
                seconds = statistics.median(_timed_threads(n_workers, op, args.ops) for _ in range(args.repeats))
                rates[name] = n_workers * args.ops / seconds
            push_gb, pull_gb = rates["push"] * nbytes / 1e9, rates["pull"] * nbytes / 1e9
            print(f"{n_workers:7d} {n_shards:6d} {rates['push']:10.1f} {push_gb:10.2f} {push_gb / ref_push:8.2f}x "
                  f"{rates['pull']:10.1f} {pull_gb:10.2f} {pull_gb / ref_pull:8.2f}x")
            if single is None:
                single = push_gb / ref_push
            assert ps.stats()["bytes_in"].sum() == nbytes * n_workers * (1 + args.ops * args.repeats)
    return single


def straggler_race(args) -> float:
    """Prints time and updates to the target loss per policy; returns the median BSP / SSP(3) time."""
    import statistics

    from minidl.ps import ASP, BSP, SSP, Scenario

    base = Scenario(updates=args.updates)
    policies = (("BSP", BSP()), ("SSP(3)", SSP(3)), ("ASP", ASP()))
    print(f"\nSimulated: {base.n_workers} workers, the last {base.slowdown:g}x slower, log-normal jitter "
          f"sigma {base.jitter:g}, shards skewed {base.skew:g} by label; softmax regression on the MNIST "
          f"subset, batch {base.batch} per worker, ConSGD lr {base.lr:g}; target loss {base.target:g}; "
          f"{args.seeds} seed(s)")
    print(f"{'seed':>4} " + " ".join(f"{name + ' s':>9} {name + ' upd':>10}" for name, _ in policies)
          + f" {'BSP/SSP(3) time':>16}")
    ratios, updates = [], {name: [] for name, _ in policies}
    for seed in range(args.seeds):
        runs = {name: base.but(seed=seed).run(policy) for name, policy in policies}
        t = {name: r.time_to(base.target) for name, r in runs.items()}
        for name, r in runs.items():
            updates[name].append(r.updates_to(base.target))
        ratios.append(t["BSP"] / t["SSP(3)"])
        print(f"{seed:4d} " + " ".join(f"{t[name]:9.3f} {updates[name][-1]:10}" for name, _ in policies)
              + f" {ratios[-1]:15.2f}x")
    med = {name: statistics.median(u) for name, u in updates.items()}
    print(f"median updates to loss {base.target:g}: " + ", ".join(f"{n} {m:g}" for n, m in med.items())
          + f" (ASP / SSP(3): {med['ASP'] / med['SSP(3)']:.2f}x)")
    return statistics.median(ratios)


def main(argv=None) -> int:
    args = _args(argv)
    set_blas_threads(1)
    print("threads: the worker threads shown per row; NumPy's elementwise work runs on the calling "
          "thread; BLAS 1 thread (simulated task)")
    push_ratio = throughput(args)
    speedup = straggler_race(args)
    print(f"push bandwidth, 1 worker 1 shard: {push_ratio:.2f}x NumPy's in-place w -= lr * g "
          f"(target >= 0.5); SSP(3) reaches the target loss {speedup:.2f}x sooner than BSP "
          f"(median over seeds, target >= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
