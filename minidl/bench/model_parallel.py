"""Model parallelism: time and bytes per step of every split, with the alpha-beta prediction beside each.

    python -m minidl.bench.model_parallel [--ranks 2 4] [--batch 256] [--steps 6]

Trains the model (784, 512, 512, 512, 16) in float64 on random data (the 3x512 MNIST model with 16
outputs, so that the column split divides by 2 and 4) for a few SGD steps with momentum on P ranks:
data parallelism, column, row and paired splits, a 1F1B pipeline (4 micro-batches) and, on 4
ranks, a 2 x 2 grid (pair split in the model groups). For each: the median wall time of a step
(the slowest rank), the bytes the busiest rank sent per step (counted by `Traffic`, equal to
`model_parallel.step_bytes`), and the alpha-beta time of that communication on "shared memory"
(the ranks here share one machine) and on 10 GbE. Times are measurements of one machine, and
unreliable when the ranks outnumber the cores; the bytes are the same everywhere.
"""
from __future__ import annotations

import argparse

SIZES = [784, 512, 512, 512, 16]


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def worker(args) -> None:
    import time

    import numpy as np
    from mpi4py import MPI

    import minidl.distributed as dist
    from minidl.distributed import model_parallel as mp
    from minidl.nn import mlp

    comm = MPI.COMM_WORLD
    P = comm.Get_size()
    rng = np.random.default_rng(0)
    n = args.batch * (args.steps + 1)
    x, y = rng.standard_normal((n, SIZES[0])), rng.integers(0, SIZES[-1], n)

    def model():
        return mlp(SIZES, seed=0, dtype=np.float64)

    runs = {"data": lambda: (mp.Replica(model()), comm),
            "column": lambda: (mp.TensorParallel(model(), comm, "column"), None),
            "row": lambda: (mp.TensorParallel(model(), comm, "row"), None),
            "pair": lambda: (mp.TensorParallel(model(), comm, "pair"), None),
            "pipeline": lambda: (mp.Pipeline(model(), comm, 4, "1f1b"), None)}
    if P == 4:
        grid_data, grid_model = mp.grid_comms(comm, data=2)
        runs["grid 2 x 2"] = lambda: (mp.TensorParallel(model(), grid_model, "pair"), grid_data)
    out = {}
    for name, make in runs.items():
        par, data_comm = make()
        data_traffic = mp.Traffic()
        times = []
        for step in range(args.steps + 1):
            comm.Barrier()
            t0 = time.perf_counter()
            rows = slice(step * args.batch, (step + 1) * args.batch)  # one batch: one step
            mp.train(par, x[rows], y[rows], global_batch=args.batch, lr=0.01, momentum=0.9,
                     data_comm=data_comm, data_traffic=data_traffic)
            times.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            if step == 0:  # the first step warms up; count bytes from the second on
                par.traffic.reset()
                data_traffic.reset()
        sent = comm.gather((par.traffic.total + data_traffic.total) / args.steps, root=0)
        out[name] = {"step": float(np.median(times[1:])), "bytes": max(sent) if sent else None}
    if comm.Get_rank() == 0:
        dist.report({"P": P, "runs": out})


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        worker(args)
        return 0
    from minidl.distributed import launch
    from minidl.distributed import model_parallel as mp
    from minidl.reference import LINKS
    print(f"model parallelism, model {SIZES} (float64), batch {args.batch}, median of {args.steps} steps")
    print(f"{'P':>2} {'split':<12}{'step (ms)':>11}{'MB/step':>10}{'plan MB':>10}"
          f"{'shared mem (ms)':>17}{'10 GbE (ms)':>13}")
    for P in args.ranks:
        forwarded = ["--worker", "--batch", str(args.batch), "--steps", str(args.steps)]
        code = f"from minidl.bench.model_parallel import main\nmain({forwarded!r})\n"
        res = launch(code=code, n=P, timeout=args.timeout).result
        for name, r in res["runs"].items():
            if name.startswith("grid"):
                ops = mp.grid_ops(SIZES, args.batch, "pair", 2, P // 2)
            else:
                ops = mp.comm_ops(SIZES, args.batch, name, P, micro_batches=4)
            plan = mp.ops_bytes(ops)
            assert abs(plan - r["bytes"]) <= 1e-9 * max(plan, 1), (name, plan, r["bytes"])
            times = [1e3 * mp.ops_time(ops, LINKS[k].alpha, LINKS[k].beta) for k in ("shared memory", "10 GbE")]
            print(f"{P:>2} {name:<12}{1e3 * r['step']:>11.2f}{r['bytes'] / 1e6:>10.3f}{plan / 1e6:>10.3f}"
                  f"{times[0]:>17.3f}{times[1]:>13.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
