"""Allreduce: MPI's own against minidl's ring, recursive doubling and the pickle API.

    python -m minidl.bench.allreduce [--ranks 2 4] [--sizes 1e3 1e4 1e5 1e6 1e7] [--repeats 9]

For each number of ranks P the benchmark starts one MPI job (with the mpiexec
next to this Python, one BLAS thread per rank). Every rank sums a float64 array of
n elements; a time is the slowest rank's, and the table shows the median over the
repeats, with the algorithms interleaved so that machine noise hits them alike.
GB/s is the algorithm bandwidth, the array's bytes over the time. The ratio is
time / MPI's time: 1.00 matches MPI, 2.00 is twice as slow.

The second table is the price of getting the gradients into one buffer, on the
lecture's 784-512-512-512-10 model: `GradientBuckets` (backward writes each gradient,
divided by P, into the buffer: no copy) and `allreduce_gradients` (packing: a copy in),
against one raw in-place `Allreduce` of the same bytes, beside what one buffer replaces
(one `Allreduce` per parameter, one latency each) and what packing costs at least (one
copy of the same bytes). On one machine the raw `Allreduce` itself runs at memory
speed, so that copy is a large fraction of it; across a network it is not.
"""
from __future__ import annotations

import argparse
import sys


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7])
    p.add_argument("--repeats", type=int, default=9, help="timed repeats per size (median)")
    p.add_argument("--model", type=int, nargs="+", default=[784, 512, 512, 512, 10])
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _time_all(comm, fns: dict, repeats: int, setup=None) -> dict:
    """Median over repeats of the slowest rank's time, the functions interleaved (in a
    rotating order, so that none always follows the same one);
    `setup()` (or `setup[name]()`, one per function) runs untimed before each call."""
    import numpy as np
    from mpi4py import MPI
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats + 1):  # repeat 0 warms up
        for name in names[r % len(names):] + names[:r % len(names)]:  # each goes first in turn
            fn = fns[name]
            if isinstance(setup, dict):
                setup[name]()
            elif setup is not None:
                setup()
            comm.Barrier()
            t0 = MPI.Wtime()
            fn()
            dt = comm.allreduce(MPI.Wtime() - t0, op=MPI.MAX)
            if r:
                times[name].append(dt)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def worker(args) -> None:
    """Runs on every rank; rank 0 reports the rows."""
    import numpy as np
    from mpi4py import MPI

    import minidl.distributed as dist
    from minidl.nn import mlp

    comm = MPI.COMM_WORLD
    # the gradients first, in a fresh process: the size rows below allocate and free arrays of
    # 8 MB and more, which numpy asks the kernel to back with huge pages, and a buffer placed
    # later in that memory would run its Allreduce faster for that reason alone
    model = mlp(args.model, seed=0)  # float32, as trained in lesson 05
    params = model.parameters()
    rng = np.random.default_rng(comm.rank)
    grads = [rng.standard_normal(p.data.shape).astype(p.data.dtype) for p in params]

    viewed = mlp(args.model, seed=0).parameters()
    buckets = dist.GradientBuckets(viewed, comm)
    buckets.allreduce()  # from now on every .grad of `viewed` is its slice of the buffer

    # before each call, untimed, its input as backward would leave it, written last (so as warm in
    # the caches for every contender): new arrays for packing, the slices of the buffer for the views
    def fresh_arrays():
        for p, g in zip(params, grads):
            p.grad = g
            g += 0.0

    def fresh_views():
        for q, g in zip(viewed, grads):
            np.copyto(q.grad, g)

    def fresh_buffer():  # the raw Allreduce's buffer gets the same bytes the same way
        offset = 0
        for g in grads:
            np.copyto(buf[offset:offset + g.size], g.reshape(-1))
            offset += g.size

    n_bytes = sum(p.data.nbytes for p in params)
    buf = np.ones(n_bytes // 4, dtype=np.float32)
    copy = np.empty_like(buf)
    outs = [np.empty_like(g) for g in grads]

    def per_parameter():  # what packing replaces: one message (one latency) per parameter
        for g, out in zip(grads, outs):
            comm.Allreduce(g, out)

    pack = _time_all(comm, {"raw Allreduce": lambda: comm.Allreduce(MPI.IN_PLACE, buf),
                            "GradientBuckets (views)": buckets.allreduce,
                            "allreduce_gradients (packing)": lambda: dist.allreduce_gradients(params, comm),
                            "one Allreduce per parameter": per_parameter,
                            "one copy of the same bytes": lambda: np.copyto(copy, buf)},
                     args.repeats * 5,
                     setup={"raw Allreduce": fresh_buffer,
                            "GradientBuckets (views)": fresh_views, "allreduce_gradients (packing)": fresh_arrays,
                            "one Allreduce per parameter": fresh_arrays,
                            "one copy of the same bytes": fresh_buffer})
    rows = []
    for size in args.sizes:
        n = int(size)
        a = np.random.default_rng(comm.rank).standard_normal(n)
        out = np.empty_like(a)
        expected = np.empty_like(a)
        comm.Allreduce(a, expected)
        for fn in (dist.ring_allreduce, dist.recursive_doubling_allreduce):
            assert np.allclose(fn(a, comm), expected, rtol=1e-12, atol=1e-9), fn.__name__
        repeats = max(3, min(args.repeats * 10, int(args.repeats * 1e6 / max(n, 1)))) if n < 1e6 else args.repeats
        fns = {"MPI Allreduce": lambda a=a, out=out: comm.Allreduce(a, out),
               "minidl ring": lambda a=a: dist.ring_allreduce(a, comm),
               "recursive doubling": lambda a=a: dist.recursive_doubling_allreduce(a, comm),
               "pickle allreduce": lambda a=a: comm.allreduce(a)}
        rows.append((n, _time_all(comm, fns, repeats)))

    if comm.rank == 0:
        dist.report({"P": comm.size, "rows": rows, "pack": pack, "pack_bytes": n_bytes})


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        worker(args)
        return 0
    import statistics

    from minidl.distributed import launch
    forwarded = ["--worker", "--repeats", str(args.repeats), "--sizes", *map(str, args.sizes),
                 "--model", *map(str, args.model)]
    print(__doc__.splitlines()[0])
    print(f"float64 sums, 1 BLAS thread per rank, median of {args.repeats} repeats (more for small n), "
          f"slowest rank's time\n")
    ring_ratios, view_ratios, pack_ratios, per_param_ratios, copy_ratios = [], [], [], [], []
    for P in args.ranks:
        code = f"from minidl.bench.allreduce import main\nmain({forwarded!r})\n"
        res = launch(code=code, n=P, timeout=args.timeout).result
        print(f"P = {P} ranks")
        print(f"{'elements':>10} {'algorithm':>20} {'time':>11} {'GB/s':>7} {'vs MPI':>7}")
        for n, times in res["rows"]:
            ref = times["MPI Allreduce"]
            for name, t in times.items():
                print(f"{n:>10.0e} {name:>20} {_fmt(t):>11} {8 * n / t / 1e9:>7.2f} {t / ref:>6.2f}x")
                if name == "minidl ring" and n >= 1e6:
                    ring_ratios.append(t / ref)
        pk = res["pack"]
        ref = pk["raw Allreduce"]
        view_ratios.append(pk["GradientBuckets (views)"] / ref)
        pack_ratios.append(pk["allreduce_gradients (packing)"] / ref)
        per_param_ratios.append(pk["one Allreduce per parameter"] / ref)
        copy_ratios.append(pk["one copy of the same bytes"] / ref)
        print(f"\n  the gradients of {'-'.join(map(str, args.model))} ({res['pack_bytes'] / 1e6:.1f} MB float32)")
        for name, t in pk.items():
            print(f"  {name:>30} {_fmt(t):>11} {t / ref:>6.3f}x")
        print()
    if ring_ratios:
        print(f"ring / MPI at >= 1e6 elements: worst {max(ring_ratios):.2f}x, "
              f"median {statistics.median(ring_ratios):.2f}x (target <= 1.5x); ", end="")
    print(f"gradients in one buffer: views {max(view_ratios):.3f}x of a raw Allreduce at worst (target <= "
          f"1.10x), packing {max(pack_ratios):.3f}x, where a copy of the same bytes alone costs "
          f"{max(copy_ratios):.2f}x and one Allreduce per parameter {max(per_param_ratios):.2f}x")
    return 0


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.3f} s"


if __name__ == "__main__":
    sys.exit(main())
