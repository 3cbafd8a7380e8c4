"""Data-parallel training step: 1 rank against P ranks, measured and predicted two ways.

    python -m minidl.bench.data_parallel [--ranks 2] [--batch 256] [--steps 40] [--runs 3]

The lecture's MNIST model (784-512-512-512-10, float32, 3.7 MB of gradients) is
trained with a fixed global batch B split over P ranks of this machine (strong
scaling), one BLAS thread per rank, gradients in `GradientBuckets` (backward writes
them into the allreduce's buffer). A step is forward + backward on B/P examples, the
allreduce, and SGD; the table gives the median step over the timed steps and the
slowest rank's time in each part ("allreduce" is the last rank's: it waits for nobody).

Each step is predicted twice, from measurements that are not the training run:

- alpha-beta, the lectures' model: the 1-rank step at batch B (without its allreduce)
  divided by P, plus a ring allreduce with alpha and beta from a warm ping-pong;
- extended (`minidl.distributed.node`): compute of one rank alone at batch B/P times the
  slowdown when P ranks compute at once, the optimizer's full update (every rank does
  all of it), and an alpha-beta-gamma ring with beta from a ping-pong whose caches were
  emptied first and gamma from cold additions, plus the packing copy (at the speed of a
  cold copy) where there is one and page faults times their cost.

Three configurations show where the time went, each with the page faults per step counted:

- packing, malloc's default: `allreduce_gradients` copies the gradients into one buffer,
  and glibc returns freed arrays of more than ~128 KiB to the kernel, so new arrays are
  faulted in again page by page (in backward, and in MPI's temporary buffer);
- views, malloc's default: `GradientBuckets`, no copy, fewer new arrays;
- views, memory kept: as `launch` runs every job (`KEEP_MEMORY`), no faults at all.

`--runs` repeats everything to show how much the machine's noise moves the numbers.
"""
from __future__ import annotations

import argparse
import sys


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[2])
    p.add_argument("--batch", type=int, default=256, help="global batch B, split over the ranks")
    p.add_argument("--steps", type=int, default=40, help="timed steps (median)")
    p.add_argument("--runs", type=int, default=3, help="independent runs of the whole table")
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 512, 10])
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--local", type=int, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--packing", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def worker(args) -> None:
    import resource

    import numpy as np
    from mpi4py import MPI

    import minidl.distributed as dist
    from minidl.distributed import node
    from minidl.nn import cross_entropy, mlp
    from minidl.optim import SGD
    from minidl.tensor import Tensor

    comm = MPI.COMM_WORLD
    P, rank = comm.size, comm.rank
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, args.sizes[0]), dtype=np.float32)
    y = rng.integers(0, args.sizes[-1], args.batch)
    model = mlp(args.sizes, seed=0)
    params = model.parameters()
    opt = SGD(params, lr=0.01)
    n_bytes = sum(p.data.nbytes for p in params)
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt  # noqa: E731

    def compute(xb, yb):
        loss = cross_entropy(model(Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()

    out = {"P": P, "grad_bytes": n_bytes}
    if P == 1:  # the inputs of both models: compute alone at every local batch, the optimizer
        for b in args.local:
            xb, yb = x[:b], y[:b]
            f0 = faults()
            out[f"compute {b}"] = node.median_time(lambda xb=xb, yb=yb: compute(xb, yb), args.steps)
            out[f"faults {b}"] = (faults() - f0) / (args.steps + 1)  # taken out again with their cost
        f0 = faults()
        out["optimizer"] = node.median_time(opt.step, args.steps)
        out["faults optimizer"] = (faults() - f0) / (args.steps + 1)
        out["fault_seconds"] = node.measure_page_fault()
    xb, yb = dist.local_batch(x, y, rank, P)
    reduce = (lambda: dist.allreduce_gradients(params, comm)) if args.packing else \
        dist.GradientBuckets(params, comm).allreduce
    rows = []
    for k in range(args.steps + 3):  # 3 warm-up steps
        comm.Barrier()
        f0, t0 = faults(), MPI.Wtime()
        compute(xb, yb)
        f1, t1 = faults(), MPI.Wtime()
        reduce()
        f2, t2 = faults(), MPI.Wtime()
        opt.step()
        f3, t3 = faults(), MPI.Wtime()
        if k >= 3:
            v = np.array([t1 - t0, t2 - t1, t3 - t2, t3 - t0, f1 - f0, f2 - f1, f3 - f2], dtype=float)
            slowest, fastest = np.empty_like(v), np.empty_like(v)
            comm.Allreduce(v, slowest, op=MPI.MAX)
            comm.Allreduce(v, fastest, op=MPI.MIN)
            rows.append((slowest[0], fastest[1], slowest[2], slowest[3], *slowest[4:]))
    med = np.median(np.array(rows), axis=0)
    out.update(zip(("step_compute", "step_allreduce", "step_optimizer", "step", "faults_compute",
                    "faults_allreduce", "faults_optimizer"), map(float, med)))
    if P > 1:  # the calibrations, each on its own, after training: freeing their
        # large arrays raises glibc's threshold for returning memory, which would hide the faults above
        sizes, seconds = dist.measure_pingpong(comm, repeats=10)
        warm = dist.fit_alpha_beta(sizes, seconds)
        sizes, seconds = dist.measure_pingpong(comm, repeats=10, cold=True)
        cold = dist.fit_alpha_beta(sizes, seconds)
        out.update(alpha=warm.alpha, beta=warm.beta, alpha_cold=cold.alpha, beta_cold=cold.beta,
                   gamma=node.measure_reduction(comm, n_bytes // P),
                   copy=node.measure_reduction(comm, n_bytes, op="copy"),
                   contention=node.measure_contention(comm, lambda: compute(xb, yb)),
                   fault_seconds=node.measure_page_fault())
    if rank == 0:
        dist.report(out)


def faults_per_step(r: dict) -> float:
    """Page faults per step of a run, in all its parts."""
    return r["faults_compute"] + r["faults_allreduce"] + r["faults_optimizer"]


def predictions(base: dict, r: dict, B: int, packing: bool) -> tuple[float, object]:
    """(alpha-beta step, extended StepModel) for the P-rank run `r`, from the 1-rank run `base`."""
    from minidl.distributed import ring_time
    from minidl.distributed.node import predict_step
    P, n = r["P"], r["grad_bytes"]
    work_1 = base["step"] - base["step_allreduce"]
    simple = work_1 / P + float(ring_time(n, P, r["alpha"], r["beta"]))
    b = B // P  # compute alone, without the page faults of that measurement: the model adds faults itself
    alone = max(0.0, base[f"compute {b}"] - base[f"faults {b}"] * base["fault_seconds"])
    optimizer = max(0.0, base["optimizer"] - base["faults optimizer"] * base["fault_seconds"])
    extended = predict_step(alone, optimizer, n, P, r["alpha"], r["beta_cold"],
                            r["gamma"], r["contention"], faults_per_step(r), r["fault_seconds"],
                            copy=r["copy"] if packing else 0.0)
    return simple, extended


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        worker(args)
        return 0
    from minidl.distributed import launch
    Ps = sorted(set(args.ranks) - {1})
    if not Ps or any(args.batch % P for P in Ps):
        print(f"data_parallel: give --ranks of 2 or more that divide the global batch {args.batch}", file=sys.stderr)
        return 2
    common = ["--worker", "--batch", str(args.batch), "--steps", str(args.steps), "--sizes", *map(str, args.sizes)]
    code = "from minidl.bench.data_parallel import main\nmain({!r})\n"
    print(__doc__.splitlines()[0])
    print(f"model {'-'.join(map(str, args.sizes))}, global batch {args.batch}, float32, 1 BLAS thread per rank, "
          f"median of {args.steps} steps, {args.runs} runs\n")
    header = (f"{'run':>3} {'gradients, memory':>29} {'P':>2} {'compute':>8} {'allreduce':>9} {'optim.':>7} "
              f"{'step':>8} {'faults':>7} {'alpha-beta':>10} {'error':>6} {'extended':>8} {'error':>6}  largest term")
    print(header)
    errors = {}
    configs = (("packing", False), ("views", False), ("views", True))
    for run in range(1, args.runs + 1):
        for reducer, keep in configs:
            flags = [*common, *(["--packing"] if reducer == "packing" else [])]
            local = [args.batch // P for P in [1, *Ps]]
            base = launch(code=code.format([*flags, "--local", *map(str, local)]), n=1,
                          timeout=args.timeout, keep_memory=keep).result
            memory = f"{reducer}, {'memory kept' if keep else 'malloc default'}"
            print(f"{run:>3} {memory:>29} {1:>2} {base['step_compute'] * 1e3:8.2f} {'':>9} "
                  f"{base['step_optimizer'] * 1e3:7.2f} {base['step'] * 1e3:8.2f} "
                  f"{faults_per_step(base):7.0f}")
            for P in Ps:
                r = launch(code=code.format(flags), n=P, timeout=args.timeout, keep_memory=keep).result
                simple, ext = predictions(base, r, args.batch, reducer == "packing")
                e_simple, e_ext = simple / r["step"] - 1, ext.total / r["step"] - 1
                errors.setdefault((memory, P), []).append((e_simple, e_ext))
                print(f"{'':>3} {'':>29} {P:>2} {r['step_compute'] * 1e3:8.2f} {r['step_allreduce'] * 1e3:9.2f} "
                      f"{r['step_optimizer'] * 1e3:7.2f} {r['step'] * 1e3:8.2f} "
                      f"{faults_per_step(r):7.0f} {simple * 1e3:10.2f} {e_simple:+6.0%} "
                      f"{ext.total * 1e3:8.2f} {e_ext:+6.0%}  {ext.dominant()}")
                if run == 1:
                    terms = ", ".join(f"{name} {getattr(ext, name) * 1e3:.2f}" for name in
                                      ("compute", "optimizer", "latency", "transfer", "reduction", "packing",
                                                  "page_faults"))
                    print(f"{'':>37}extended terms (ms): {terms}")
                    print(f"{'':>37}contention {r['contention']:.2f}; ping-pong warm {1 / r['beta'] / 1e9:.1f} GB/s, "
                          f"cold {1 / r['beta_cold'] / 1e9:.1f} GB/s; {r['fault_seconds'] * 1e6:.2f} us per page "
                          f"fault; faults per step: compute {r['faults_compute']:.0f}, allreduce "
                          f"{r['faults_allreduce']:.0f}, optimizer {r['faults_optimizer']:.0f}")
    print()
    for (memory, P), errs in errors.items():
        worst_simple = max(abs(a) for a, _ in errs)
        worst_ext = max(abs(b) for _, b in errs)
        print(f"{memory}, P = {P}: worst error of the prediction over {len(errs)} runs: alpha-beta "
              f"{worst_simple:.0%}, extended {worst_ext:.0%} (target: within 25%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
