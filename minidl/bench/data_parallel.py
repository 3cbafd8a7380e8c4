"""Data-parallel training throughput: 1 rank against P ranks, measured and predicted.

    python -m minidl.bench.data_parallel [--ranks 1 2] [--batch 256] [--steps 30]

The lecture's MNIST model (784-512-512-512-10, float32, 3.7 MB of gradients) is
trained with a fixed global batch split over P ranks (strong scaling), each rank
with one BLAS thread. A step is forward + backward on B/P examples, then
`allreduce_gradients`, then SGD; the table gives medians over the steps. Compute
and step are the slowest rank's. The allreduce is timed on every rank from the end
of its own backward, so a rank that finishes early also waits for the others there:
the table splits that time into `wait` (the earliest rank's extra time, the load
imbalance) and `allreduce` (the last rank's, which waits for nobody: the
communication itself), next to the ring's alpha-beta time for the same bytes.
The prediction is the alpha-beta model: the 1-rank step without its allreduce,
divided by P, plus a ring allreduce of the gradients with alpha and beta fitted
from a ping-pong measured in the same run.
"""
from __future__ import annotations

import argparse
import sys


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=256, help="global batch B, split over the ranks")
    p.add_argument("--steps", type=int, default=30, help="timed steps (median)")
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 512, 10])
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def worker(args) -> None:
    import numpy as np
    from mpi4py import MPI

    import minidl.distributed as dist
    from minidl.nn import cross_entropy, mlp
    from minidl.optim import SGD
    from minidl.tensor import Tensor

    comm = MPI.COMM_WORLD
    P, rank = comm.size, comm.rank
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, args.sizes[0]), dtype=np.float32)
    y = rng.integers(0, args.sizes[-1], args.batch)
    xb, yb = dist.local_batch(x, y, rank, P)
    model = mlp(args.sizes, seed=0)
    params = model.parameters()
    opt = SGD(params, lr=0.01)
    dist.broadcast_parameters(params, comm)
    timed = {"compute": [], "comm": [], "wait": [], "step": []}
    for k in range(args.steps + 3):  # 3 warm-up steps
        comm.Barrier()
        t0 = MPI.Wtime()
        loss = cross_entropy(model(Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        t1 = MPI.Wtime()
        dist.allreduce_gradients(params, comm)
        t2 = MPI.Wtime()
        opt.step()
        t3 = MPI.Wtime()
        if k >= 3:
            times = np.array([t1 - t0, t2 - t1, t3 - t0])
            slowest, fastest = np.empty(3), np.empty(3)
            comm.Allreduce(times, slowest, op=MPI.MAX)
            comm.Allreduce(times, fastest, op=MPI.MIN)
            timed["compute"].append(slowest[0])
            timed["comm"].append(fastest[1])               # the last rank to finish backward waits for nobody
            timed["wait"].append(slowest[1] - fastest[1])  # the first one waits for the last
            timed["step"].append(slowest[2])
    fit = None
    if P > 1:
        sizes, seconds = dist.measure_pingpong(comm, repeats=10)
        fit = dist.fit_alpha_beta(sizes, seconds)
    if rank == 0:
        dist.report({"P": P, **{name: float(np.median(ts)) for name, ts in timed.items()},
                     "grad_bytes": sum(p.data.nbytes for p in params),
                     "alpha": fit.alpha if fit else None, "beta": fit.beta if fit else None})


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        worker(args)
        return 0
    from minidl.distributed import launch, ring_time
    if any(args.batch % P for P in args.ranks):
        print(f"data_parallel: the global batch {args.batch} must be a multiple of every P in {args.ranks}",
              file=sys.stderr)
        return 2
    forwarded = ["--worker", "--batch", str(args.batch), "--steps", str(args.steps),
                 "--sizes", *map(str, args.sizes)]
    code = f"from minidl.bench.data_parallel import main\nmain({forwarded!r})\n"
    runs = {P: launch(code=code, n=P, timeout=args.timeout).result for P in sorted(set(args.ranks) | {1})}
    base = runs[1]
    fits = [r for r in runs.values() if r["alpha"] is not None]
    alpha = fits[-1]["alpha"] if fits else None
    beta = fits[-1]["beta"] if fits else None
    print(__doc__.splitlines()[0])
    print(f"model {'-'.join(map(str, args.sizes))}, global batch {args.batch}, float32, 1 BLAS thread per rank, "
          f"median of {args.steps} steps")
    if alpha is not None:
        print(f"alpha-beta fit from a ping-pong: alpha = {alpha * 1e6:.1f} us, 1/beta = {1 / beta / 1e9:.2f} GB/s")
    print(f"\n{'P':>3} {'compute':>10} {'wait':>10} {'allreduce':>10} {'ring model':>11} {'step':>10} "
          f"{'samples/s':>10} {'speedup':>8} {'efficiency':>10} {'predicted step':>15} {'predicted eff.':>15}")
    effs = {}
    work_1 = base["step"] - base["comm"] - base["wait"]  # everything but the allreduce, on one rank
    for P, r in sorted(runs.items()):
        sps = args.batch / r["step"]
        speedup = base["step"] / r["step"]
        effs[P] = speedup / P
        if alpha is not None:
            ring = ring_time(r["grad_bytes"], P, alpha, beta) if P > 1 else 0.0
            pred = work_1 / P + ring
            ring_s, pred_s, pred_e = f"{ring * 1e3:.2f} ms", f"{pred * 1e3:.2f} ms", f"{work_1 / pred / P:.2f}"
        else:
            ring_s = pred_s = pred_e = "n/a"
        print(f"{P:>3} {r['compute'] * 1e3:>7.2f} ms {r['wait'] * 1e3:>7.2f} ms {r['comm'] * 1e3:>7.2f} ms "
              f"{ring_s:>11} {r['step'] * 1e3:>7.2f} ms {sps:>10.0f} {speedup:>7.2f}x {effs[P]:>10.2f} "
              f"{pred_s:>15} {pred_e:>15}")
    top = max(runs)
    print(f"\nscaling efficiency at P = {top}: {effs[top]:.2f} (1.00 is perfect); per-rank compute at "
          f"P = {top} is {runs[top]['compute'] * top / base['compute']:.2f}x the 1-rank compute / P")
    return 0


if __name__ == "__main__":
    sys.exit(main())
