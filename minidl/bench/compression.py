"""Gradient compression: compression ratio, accuracy and time per step at three sparsities.

    python -m minidl.bench.compression [--ranks 2] [--epochs 4] [--sizes 784 64 10]

Trains the MNIST subset (4,000 training, 1,000 test images) in float64 on P ranks with
`minidl.distributed.compress.train_compressed` (global batch 100, lr 0.05, momentum 0.9), dense
and at 90 %, 99 % and 99.9 % sparsity (top-k) with naive sparse momentum and momentum
correction, the setting of lesson 14. For each run: the compression ratio (dense bytes over
bytes sent), the final test accuracy, and the median wall time of a training step and of its
optimizer step (compress + sparse allreduce + update, or the dense Allreduce + update). Beside them, the median time
of minidl's hand-written ring allreduce (`ring_allreduce`, lesson 08) of the same n float64
values, and the alpha-beta times of both for the MNIST 3x512 model in float32 on 10 GbE.
Times are measurements of one machine; the ratio and accuracy are the same everywhere.
"""
from __future__ import annotations

import argparse

SPARSITIES = (0.9, 0.99, 0.999)


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 64, 10])
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def worker(args) -> None:
    import numpy as np
    from mpi4py import MPI

    import minidl.distributed as dist
    from minidl.data import flatten_images, load_mnist
    from minidl.distributed import compress
    from minidl.nn import mlp

    comm = MPI.COMM_WORLD
    (xtr, ytr), (xte, yte) = load_mnist()
    x, xt = flatten_images(xtr).astype(np.float64), flatten_images(xte).astype(np.float64)
    original_step = compress.CompressedSGD.step
    out = {}
    for sparsity in (None, *SPARSITIES):
        for mode in ("dense",) if sparsity is None else ("naive", "corrected"):
            comm_times = []

            def timed(self, _t=comm_times):
                t0 = MPI.Wtime()
                original_step(self)
                _t.append(MPI.Wtime() - t0)
            compress.CompressedSGD.step = timed
            model = mlp(args.sizes, seed=0, dtype=np.float64)
            rule = {} if sparsity is None else {"fraction": round(1 - sparsity, 6)}
            comm.Barrier()
            t0 = MPI.Wtime()
            run = compress.train_compressed(model, x, ytr, global_batch=100, lr=0.05, momentum=0.9, mode=mode,
                                            epochs=args.epochs, eval_data=(xt, yte), **rule)
            wall = comm.allreduce(MPI.Wtime() - t0, op=MPI.MAX) / len(run["loss"])
            compress.CompressedSGD.step = original_step
            out[mode, sparsity] = {"ratio": run["ratio"], "accuracy": run["evals"][-1][2],
                                   "step": wall, "comm": comm.allreduce(float(np.median(comm_times)), op=MPI.MAX)}
    n = sum(p.data.size for p in model.parameters())
    buf, ring = np.random.default_rng(comm.rank).standard_normal(n), []
    for _ in range(30):
        comm.Barrier()
        t0 = MPI.Wtime()
        dist.ring_allreduce(buf, comm)
        ring.append(MPI.Wtime() - t0)
    if comm.rank == 0:
        dist.report({"runs": out, "ring": float(np.median(ring)), "n": n, "P": comm.size})


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        worker(args)
        return 0
    from minidl.distributed import compress, launch, ring_time
    from minidl.reference import LINKS, MNIST_MLP_PARAMETERS, mnist_gradient_bytes
    forwarded = ["--worker", "--epochs", str(args.epochs), "--sizes", *map(str, args.sizes)]
    code = f"from minidl.bench.compression import main\nmain({forwarded!r})\n"
    res = launch(code=code, n=args.ranks, timeout=args.timeout).result
    P, link = res["P"], LINKS["10 GbE"]
    print(f"gradient compression, {P} ranks, model {args.sizes} ({res['n']:,} weights, float64), "
          f"MNIST subset, {args.epochs} epochs")
    print(f"{'run':<22}{'ratio':>8}{'test acc':>10}{'step (ms)':>11}{'comm (ms)':>11}"
          f"{'10 GbE model, 3x512 (ms)':>26}")
    for (mode, sparsity), r in res["runs"].items():
        name = mode + ("" if sparsity is None else f", {100 * sparsity:g} %")
        if sparsity is None:
            model = ring_time(mnist_gradient_bytes(4), P, link.alpha, link.beta)
        else:
            model = compress.sparse_allgather_time((1 - sparsity) * MNIST_MLP_PARAMETERS, P, link.alpha, link.beta)
        print(f"{name:<22}{r['ratio']:>8.1f}{100 * r['accuracy']:>9.1f}%{1e3 * r['step']:>11.2f}"
              f"{1e3 * r['comm']:>11.3f}{1e3 * model:>26.3f}")
    print(f"{'ring allreduce (dense)':<22}{1.0:>8.1f}{'':>10}{'':>11}{1e3 * res['ring']:>11.3f}"
          f"{1e3 * ring_time(mnist_gradient_bytes(4), P, link.alpha, link.beta):>26.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
